"""Lambda stop / start / restart against the moto server, through the engine and the gate; read back with boto3."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from botocore.config import Config

from escher.audit import MemoryAuditSink
from escher.clouds.aws.ops.lambda_ import RESTART_VAR, STOP_TAG
from escher.ops import CloudContext, Engine, Target
from escher.policy.gate import Gate
from escher.policy.personas import Actor, Persona
from tests.functional.ops.conftest import NO_RETRY, make_engine, run

REGION = "us-east-1"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION, config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def engine(aws_env: Any, sink: MemoryAuditSink) -> Engine:
    return make_engine(CloudContext(aws_retries=NO_RETRY), sink)


@pytest.fixture
def lam(aws_env: Any) -> Any:
    return _client("lambda")


def _function(
    lam: Any, name: str, *, tags: dict[str, str] | None = None, env: dict[str, str] | None = None
) -> str:
    role = _client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    made = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": buf.getvalue()},
        Tags=tags or {},
        Environment={"Variables": env or {}},
    )
    return str(made["FunctionArn"])


def _reserved(lam: Any, name: str) -> int | None:
    value = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    return None if value is None else int(value)


def _tags(lam: Any, arn: str) -> dict[str, str]:
    return dict(lam.list_tags(Resource=arn)["Tags"])


def t(name: str) -> Target:
    return Target("aws", name, REGION)


def test_stop_remembers_the_reservation_and_start_puts_it_back(
    engine: Engine, lam: Any, sink: MemoryAuditSink
) -> None:
    arn = _function(lam, "orders", tags={"team": "web"})
    lam.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=25)

    stopped = run(engine, "aws.lambda.stop_function", [t("orders")])
    assert stopped.ok, stopped.to_dict()
    assert _reserved(lam, "orders") == 0
    assert _tags(lam, arn)[STOP_TAG] == "25"
    (res,) = stopped.results
    assert res.before is not None and res.before["reserved_concurrency"] == 25  # the ledger keeps it
    assert res.details["remembered_concurrency"] == "25"
    assert [r.outcome for r in sink.records if r.action == "aws.lambda.stop_function"] == [
        "succeeded",
        "verified",
    ]
    stop_record = next(r for r in sink.records if r.action == "aws.lambda.stop_function")
    assert (stop_record.before or {})["reserved_concurrency"] == 25

    again = run(engine, "aws.lambda.stop_function", [t("orders")])
    assert again.counts() == {"noop": 1}
    assert _tags(lam, arn)[STOP_TAG] == "25"  # a second stop does not forget the first reservation

    started = run(engine, "aws.lambda.start_function", [t(arn)])  # the ARN is a target as well as the name
    assert started.ok, started.to_dict()
    assert _reserved(lam, "orders") == 25
    assert STOP_TAG not in _tags(lam, arn) and _tags(lam, arn)["team"] == "web"
    assert started.results[0].details["restored_concurrency"] == 25


def test_start_of_a_function_that_had_no_reservation_deletes_it(engine: Engine, lam: Any) -> None:
    arn = _function(lam, "thumbs")
    assert run(engine, "aws.lambda.stop_function", [t("thumbs")]).ok
    assert _reserved(lam, "thumbs") == 0 and _tags(lam, arn)[STOP_TAG] == "unreserved"

    started = run(engine, "aws.lambda.start_function", [t("thumbs")])
    assert started.ok, started.to_dict()
    assert _reserved(lam, "thumbs") is None
    assert run(engine, "aws.lambda.start_function", [t("thumbs")]).counts() == {"noop": 1}


def test_start_with_an_explicit_reservation(engine: Engine, lam: Any) -> None:
    _function(lam, "batch")
    lam.put_function_concurrency(FunctionName="batch", ReservedConcurrentExecutions=0)  # stopped by hand
    result = run(engine, "aws.lambda.start_function", [t("batch")], {"reserved_concurrency": 7})
    assert result.ok, result.to_dict()
    assert _reserved(lam, "batch") == 7


def test_restart_sets_the_marker_and_keeps_the_other_variables(
    engine: Engine, lam: Any, sink: MemoryAuditSink
) -> None:
    _function(lam, "api", env={"DB_PASSWORD": "s3cret", "MODE": "fast"})
    result = run(engine, "aws.lambda.restart_function", [t("api")])
    assert result.ok, result.to_dict()
    variables = lam.get_function_configuration(FunctionName="api")["Environment"]["Variables"]
    (res,) = result.results
    assert variables == {
        "DB_PASSWORD": "s3cret",
        "MODE": "fast",
        RESTART_VAR: res.after and res.after["restart_marker"],
    }
    assert len(variables[RESTART_VAR]) == 16
    assert "s3cret" not in json.dumps(
        [r.model_dump(mode="json") for r in sink.records]
    )  # never in the ledger


def test_restart_of_a_stopped_function_is_refused(engine: Engine, lam: Any) -> None:
    _function(lam, "cron")
    lam.put_function_concurrency(FunctionName="cron", ReservedConcurrentExecutions=0)
    (res,) = run(engine, "aws.lambda.restart_function", [t("cron")]).results
    assert res.outcome == "failed"
    assert "is stopped (reserved concurrency 0)" in (res.error or "")
    assert "Environment" not in lam.get_function_configuration(FunctionName="cron")


def test_a_missing_function_is_reported(engine: Engine, lam: Any) -> None:
    (res,) = run(engine, "aws.lambda.stop_function", [t("nope")]).results
    assert res.outcome == "failed"
    assert res.error == f"Lambda function nope was not found in {REGION}"


def test_stopping_a_production_function_needs_an_approval(
    aws_env: Any, lam: Any, sink: MemoryAuditSink
) -> None:
    """The function's tags are read into the state, so the gate's production rule sees env=production."""
    _function(lam, "payments", tags={"env": "production"})
    _function(lam, "payments-dev", tags={"env": "dev"})
    gate = Gate(Actor("bob", Persona.executor), sink)
    engine = Engine(CloudContext(aws_retries=NO_RETRY), sink, gate, verify_interval=0.05, verify_timeout=2.0)

    plan = engine.plan("aws.lambda.stop_function", [t("payments")], actor="user:bob")
    (res,) = engine.execute(plan).results
    assert res.outcome == "refused" and "production" in (res.error or "")
    assert _reserved(lam, "payments") is None

    dev = engine.execute(engine.plan("aws.lambda.stop_function", [t("payments-dev")], actor="user:bob"))
    assert dev.ok, dev.to_dict()
    assert _reserved(lam, "payments-dev") == 0


def test_functions_are_selected_by_tag(engine: Engine, lam: Any) -> None:
    nightly = _function(lam, "nightly", tags={"schedule": "nightly", "env": "dev"})
    _function(lam, "always", tags={"schedule": "always"})
    op = engine.plan("aws.lambda.stop_function", [], actor="x").operation
    targets = engine.resolve_targets(op, tags={"schedule": "nightly"}, regions=[REGION])
    assert targets == [Target("aws", nightly, REGION)]
    assert run(engine, "aws.lambda.stop_function", targets).ok
    assert _reserved(lam, "nightly") == 0 and _reserved(lam, "always") is None
