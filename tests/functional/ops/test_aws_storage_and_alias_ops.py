"""aws.rds.increase_storage and aws.lambda.rollback_alias against the moto server, through the engine and the
gate: the plan shows what is there now, the change is read back with boto3, and the refusals say what to do."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from botocore.config import Config

from escher.audit import MemoryAuditSink
from escher.clouds.aws.ops.lambda_ import split_alias
from escher.clouds.aws.ops.rds import grown_size
from escher.ops import CloudContext, Engine, Target
from escher.ops.model import OpError
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


# -- RDS storage --------------------------------------------------------------------------------------------
def _db(name: str, gib: int, **extra: Any) -> Any:
    rds = _client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=gib,
        MasterUsername="escher",
        MasterUserPassword="not-a-secret-1",
        **extra,
    )
    return rds


def _storage(rds: Any, name: str) -> tuple[int, int | None]:
    db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return int(db["AllocatedStorage"]), db.get("MaxAllocatedStorage")


def test_grown_size_rounds_up_and_stops_at_the_rds_maximum() -> None:
    assert grown_size(100, 10) == 110
    assert grown_size(21, 10) == 24  # 23.1 -> 24: never less than asked
    assert grown_size(65000, 10) == 65536


def test_increase_storage_plans_the_current_size_then_grows_it(engine: Engine) -> None:
    rds = _db("grow-db", 100)
    target = Target("aws", "grow-db", REGION)
    plan = engine.plan("aws.rds.increase_storage", [target], {"increase_percent": 25}, actor="t", reason="t")
    [change] = plan.changes
    assert change.before["allocated_gib"] == 100 and change.wanted == {"storage_after_change": 125}
    assert _storage(rds, "grow-db")[0] == 100  # planning changed nothing

    result = engine.execute(plan).results[0]

    assert result.outcome == "verified", result.error
    assert _storage(rds, "grow-db")[0] == 125
    assert result.details["allocated_gib_before"] == 100


def test_increase_storage_raises_the_autoscaling_ceiling_it_would_hit(engine: Engine) -> None:
    rds = _db("auto-db", 100, MaxAllocatedStorage=105)

    result = run(engine, "aws.rds.increase_storage", [Target("aws", "auto-db", REGION)]).results[0]

    assert result.outcome == "verified", result.error
    allocated, ceiling = _storage(rds, "auto-db")
    assert allocated == 110 and ceiling is not None and int(ceiling) > 110


def test_increase_storage_refuses_less_than_rds_minimum(engine: Engine) -> None:
    _db("small-step-db", 100)
    with pytest.raises(OpError, match="increase_percent"):
        engine.plan(
            "aws.rds.increase_storage",
            [Target("aws", "small-step-db", REGION)],
            {"increase_percent": 5},
            actor="t",
            reason="t",
        )


def test_increase_storage_of_a_stopped_instance_says_when_it_can(engine: Engine) -> None:
    rds = _db("stopped-db", 100)
    rds.stop_db_instance(DBInstanceIdentifier="stopped-db")

    result = run(engine, "aws.rds.increase_storage", [Target("aws", "stopped-db", REGION)]).results[0]

    assert result.outcome == "failed" and result.error is not None and "not available" in result.error
    assert _storage(rds, "stopped-db")[0] == 100


# -- Lambda alias rollback --------------------------------------------------------------------------------
def _zip(body: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", body)
    return buf.getvalue()


def _function_with_versions(
    name: str, versions: int, alias_to: str, weights: dict[str, float] | None = None
) -> Any:
    lam = _client("lambda")
    role = _client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": _zip("def handler(e, c):\n    return 0\n")},
    )
    for n in range(1, versions + 1):
        lam.update_function_code(FunctionName=name, ZipFile=_zip(f"def handler(e, c):\n    return {n}\n"))
        assert lam.publish_version(FunctionName=name)["Version"] == str(n)
    routing = {"RoutingConfig": {"AdditionalVersionWeights": weights}} if weights else {}
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=alias_to, **routing)
    return lam


def test_split_alias_reads_name_and_arn_forms() -> None:
    assert split_alias("orders-api:live") == ("orders-api", "live")
    assert split_alias("arn:aws:lambda:us-east-1:123456789012:function:orders-api:live") == (
        "orders-api",
        "live",
    )
    with pytest.raises(OpError, match="FUNCTION:ALIAS"):
        split_alias("orders-api")


def test_rollback_alias_plans_the_current_version_then_points_back_to_the_previous(engine: Engine) -> None:
    lam = _function_with_versions("roll-fn", 3, "3")
    target = Target("aws", "roll-fn:live", REGION)
    plan = engine.plan("aws.lambda.rollback_alias", [target], None, actor="t", reason="t")
    [change] = plan.changes
    assert change.before["alias_version"] == "3" and change.before["previous_version"] == "2"
    assert change.wanted == {"alias_version": "2", "canary_weights": {}}

    result = engine.execute(plan).results[0]

    assert result.outcome == "verified", result.error
    assert lam.get_alias(FunctionName="roll-fn", Name="live")["FunctionVersion"] == "2"
    assert (result.details["rolled_back_from"], result.details["rolled_back_to"]) == ("3", "2")


def test_rollback_alias_to_a_named_version_by_arn(engine: Engine) -> None:
    lam = _function_with_versions("pick-fn", 3, "3")
    arn = lam.get_alias(FunctionName="pick-fn", Name="live")["AliasArn"]

    result = run(engine, "aws.lambda.rollback_alias", [Target("aws", arn, REGION)], {"to_version": "1"})

    assert result.results[0].outcome == "verified", result.results[0].error
    assert lam.get_alias(FunctionName="pick-fn", Name="live")["FunctionVersion"] == "1"


def test_rollback_alias_ends_a_canary_of_the_bad_version(engine: Engine) -> None:
    lam = _function_with_versions("canary-fn", 2, "1", weights={"2": 0.2})
    before = lam.get_alias(FunctionName="canary-fn", Name="live")
    assert before.get("RoutingConfig", {}).get("AdditionalVersionWeights") == {"2": 0.2}

    # the alias's main version is 1 (nothing older): roll the canary back by naming 1 itself
    result = run(
        engine, "aws.lambda.rollback_alias", [Target("aws", "canary-fn:live", REGION)], {"to_version": "1"}
    )

    assert result.results[0].outcome == "verified", result.results[0].error
    after = lam.get_alias(FunctionName="canary-fn", Name="live")
    assert after["FunctionVersion"] == "1"
    assert not (after.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_rollback_alias_with_no_earlier_version_says_what_to_do(engine: Engine) -> None:
    lam = _function_with_versions("first-fn", 1, "1")

    result = run(engine, "aws.lambda.rollback_alias", [Target("aws", "first-fn:live", REGION)]).results[0]

    assert result.outcome == "failed" and result.error is not None
    assert "no earlier published version" in result.error and "to_version" in result.error
    assert lam.get_alias(FunctionName="first-fn", Name="live")["FunctionVersion"] == "1"


def test_rollback_alias_of_a_missing_alias_is_not_found(engine: Engine) -> None:
    _function_with_versions("lonely-fn", 2, "2")

    result = run(engine, "aws.lambda.rollback_alias", [Target("aws", "lonely-fn:prod", REGION)]).results[0]

    assert result.outcome == "failed" and result.error is not None and "not found" in result.error
