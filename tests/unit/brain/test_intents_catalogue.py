"""Every operation of the catalogue has a brain intent or a stated reason why none (issue 21 item 6), and the
intents added for the database, deployment and auto-pause operations plan exactly what a request names: the
operation, its targets and parameters the operation itself accepts. A Lambda alias is planned only on a
function of the estate the request names, never invented."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.brain.catalog import OpsCatalog
from escher.brain.knowledge import load_knowledge
from escher.brain.models import AskRequest, ExecutionResponse, InformationResponse, PlanStep
from escher.brain.planner import BY_TYPE, NO_INTENT, OPS, Planner, known_targets
from escher.ops import OPERATIONS
from tests.unit.brain.estate import ESTATE, SUB, r

FN = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"
APP = f"{SUB}/prod/providers/Microsoft.Web/sites/orders-func"
RUN = "projects/p1/locations/us-central1/services/checkout"
AZ_DB = f"{SUB}/dev/providers/Microsoft.Sql/servers/s1/databases/orders-dev"
GCP_DB = "projects/p1/instances/sql-dev"
MORE = [
    r(FN, "aws", "aws.lambda.function", "us-east-1", name="orders-api", env="prod"),
    r(f"{FN[:-10]}billing", "aws", "aws.lambda.function", "us-east-1", name="billing", env="prod"),
    r(APP, "azure", "azure.web.function_app", "eastus", name="orders-func", env="prod"),
    r(RUN, "gcp", "gcp.run.service", "us-central1", name="checkout", env="prod"),
]
CONTEXT = ESTATE + MORE


@pytest.fixture(scope="module")
def planner() -> Planner:
    return Planner(OpsCatalog(), load_knowledge())


def plan(planner: Planner, query: str) -> list[tuple[str, list[str], dict[str, Any]]]:
    req = AskRequest(query=query, context=CONTEXT)
    resp = planner.ask(req)
    assert isinstance(resp, ExecutionResponse), resp.summary
    assert planner.check_plan(req, resp.steps) is None
    for step in resp.steps:  # every planned parameter set is one the operation itself accepts
        OPERATIONS.get(step.operation_id).parse_params(step.params)
    return sorted(
        (s.operation_id, s.targets, {k: v for k, v in s.params.items() if v is not None}) for s in resp.steps
    )


def test_every_catalogue_operation_has_an_intent_or_a_stated_reason() -> None:
    """Read from what a user sees, `escher ops list --output json`: an operation the brain cannot plan and
    nobody said why fails here."""
    from escher.cli.main import app

    result = CliRunner().invoke(app, ["ops", "list", "--output", "json"])
    assert result.exit_code == 0, result.output
    listed = {op["id"] for op in json.loads(result.output)}
    assert listed == set(OPERATIONS.keys())
    planned = {op for per_cloud in OPS.values() for op in per_cloud.values()} | BY_TYPE
    neither = sorted(listed - planned - set(NO_INTENT))
    assert neither == [], f"operations with no brain intent and no reason in planner.NO_INTENT: {neither}"
    assert set(NO_INTENT) <= listed and not set(NO_INTENT) & planned  # no stale or contradictory reason
    assert all(len(why) > 40 for why in NO_INTENT.values())


CASES: list[tuple[str, list[tuple[str, list[str], dict[str, Any]]]]] = [
    ("Restart sql-dev", [("gcp.sql.restart_instance", [GCP_DB], {})]),
    ("Reboot the dev databases on GCP", [("gcp.sql.restart_instance", [GCP_DB], {})]),
    ("Increase the storage of sql-dev by 20%", [("gcp.sql.increase_storage", [GCP_DB], {"increase_percent": 20})]),
    ("Increase the max size of orders-dev", [("azure.sql.increase_max_size", [AZ_DB], {"increase_percent": 25})]),
    ("Grow storage of all dev databases", [
        ("aws.rds.increase_storage", ["db-dev"], {"increase_percent": 10}),
        ("azure.sql.increase_max_size", [AZ_DB], {"increase_percent": 25}),
        ("gcp.sql.increase_storage", [GCP_DB], {"increase_percent": 10}),
    ]),
    ("Resize orders-dev to GP_Gen5_4", [("azure.sql.resize_database", [AZ_DB], {"sku": "GP_Gen5", "capacity": 4})]),
    ("Resize orders-dev to S3", [("azure.sql.resize_database", [AZ_DB], {"sku": "S3"})]),
    ("Resize sql-dev to db-custom-2-7680", [("gcp.sql.resize_instance", [GCP_DB], {"tier": "db-custom-2-7680"})]),
    ("Set the auto-pause delay of orders-dev to 2 hours",
     [("azure.sql.set_auto_pause_delay", [AZ_DB], {"minutes": 120})]),
    ("Turn off auto-pause for orders-dev", [("azure.sql.set_auto_pause_delay", [AZ_DB], {"minutes": -1})]),
    ("Roll back orders-api:live", [("aws.lambda.rollback_alias", [f"{FN}:live"], {})]),
    ("Roll back the live alias of orders-api", [("aws.lambda.rollback_alias", [f"{FN}:live"], {})]),
    ("Roll back orders-func", [("azure.functions.swap_slot", [APP], {"slot": "staging"})]),
    ("Swap the canary slot of orders-func", [("azure.functions.swap_slot", [APP], {"slot": "canary"})]),
    ("Roll back checkout", [("gcp.run.rollback_revision", [RUN], {})]),
    ("Revert the cloud run service checkout", [("gcp.run.rollback_revision", [RUN], {})]),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_request_plans_exactly_its_operation_targets_and_parameters(
    planner: Planner, query: str, expected: list[tuple[str, list[str], dict[str, Any]]]
) -> None:
    assert plan(planner, query) == sorted(expected)


def test_the_new_operations_are_each_planned_by_a_request() -> None:
    planned = {op for _, expected in CASES for op, _, _ in expected}
    assert {
        "azure.sql.increase_max_size", "azure.sql.resize_database", "gcp.sql.restart_instance",
        "gcp.sql.increase_storage", "gcp.sql.resize_instance", "azure.functions.swap_slot",
        "gcp.run.rollback_revision", "aws.lambda.rollback_alias", "azure.sql.set_auto_pause_delay",
    } <= planned  # fmt: skip


def test_a_lambda_rollback_without_an_alias_plans_nothing_and_says_how(planner: Planner) -> None:
    resp = planner.ask(AskRequest(query="Roll back orders-api", context=CONTEXT))
    assert isinstance(resp, InformationResponse)
    assert any("roll back orders-api:live" in n for n in resp.notices), resp.notices


def test_a_lambda_alias_is_a_target_only_on_a_named_function_of_the_estate(planner: Planner) -> None:
    req = AskRequest(query="Roll back orders-api:live", context=CONTEXT)
    assert f"{FN}:live" in known_targets(req)
    assert not any(t.endswith(":live") and "billing" in t for t in known_targets(req))
    # the model's plan may not move another alias or another function's alias
    for target in (
        f"{FN}:prod",
        f"{FN[:-10]}billing:live",
        "arn:aws:lambda:us-east-1:999999999999:function:x:live",
    ):
        step = PlanStep(operation_id="aws.lambda.rollback_alias", targets=[target], region="us-east-1",
                        params={}, reason=req.query)  # fmt: skip
        assert "reaches beyond what you named" in (planner.check_plan(req, [step]) or ""), target
    # an alias of a function that is not in the estate is not found, nothing planned
    resp = planner.ask(AskRequest(query="Roll back payments-api:live", context=CONTEXT))
    assert isinstance(resp, InformationResponse) and resp.intent == "not_found", resp.summary


@pytest.mark.parametrize(
    "query", ["Roll back all functions", "Increase the max size of web-99", "Roll back web-99:live"]
)
def test_no_request_widens_to_resources_nobody_named(planner: Planner, query: str) -> None:
    resp = planner.ask(AskRequest(query=query, context=CONTEXT))
    if isinstance(resp, ExecutionResponse):  # "all functions": each one the filter selects, and only those
        targets = {t for s in resp.steps for t in s.targets}
        assert targets <= {APP, RUN}, targets  # a Lambda needs its alias named
        assert any("say which" in n for n in resp.notices)
    else:
        assert not isinstance(resp, ExecutionResponse)


@pytest.mark.parametrize(
    "query", ["Restart the foo alias of web-1", "Stop the canary slot web-1", "Stop the canary slot of web-1"]
)
def test_alias_and_slot_words_are_read_only_in_a_rollback(planner: Planner, query: str) -> None:
    resp = planner.ask(AskRequest(query=query, context=CONTEXT))
    assert isinstance(resp, InformationResponse) and resp.intent == "not_found", resp.summary


def test_s3_as_a_service_objective_is_not_amazon_s3(planner: Planner) -> None:
    # "to S3" after resize is the Azure SQL objective: the AWS dev database is not swept in
    (step,) = [s for s in plan(planner, "Resize the dev databases to S3")]
    assert step == ("azure.sql.resize_database", [AZ_DB], {"sku": "S3"})


@pytest.mark.parametrize(
    ("query", "answer"),
    [("What if I restored snap-0a00000000000002?", "If you restore these 1 snapshot(s)"),
     ("What would happen if we rolled back checkout?", "If you rollback these 1 function(s)"),
     ("What if I increased the storage of sql-dev?", "If you grow these 1 database(s)")],
)  # fmt: skip
def test_past_tense_what_if_is_a_question_about_that_action(
    planner: Planner, query: str, answer: str
) -> None:
    resp = planner.ask(AskRequest(query=query, context=CONTEXT))
    assert not isinstance(resp, ExecutionResponse)
    assert resp.intent == "what_if" and resp.summary.startswith(answer), resp.summary
