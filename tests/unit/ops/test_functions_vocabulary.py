"""The planner's words for serverless functions: "stop the lambda X", "restart function app Y", "start the cloud
run service Z" plan the function operations of each cloud on exactly the named resource."""

from __future__ import annotations

import pytest

from escher.brain.catalog import OpsCatalog
from escher.brain.knowledge import load_knowledge
from escher.brain.models import AskRequest, ContextItem, ExecutionResponse
from escher.brain.planner import Planner

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
APP = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/billing-fn"
RUN = "projects/acme/locations/us-central1/services/thumbs"


def item(id_: str, cloud: str, type_: str, region: str, name: str, env: str) -> ContextItem:
    return ContextItem(id=id_, cloud=cloud, resource_type=type_, region=region, name=name, tags={"env": env})  # type: ignore[arg-type]


ESTATE = [
    item(ARN, "aws", "aws.lambda.function", "us-east-1", "orders", "dev"),
    item(ARN.replace("orders", "payments"), "aws", "aws.lambda.function", "us-east-1", "payments", "prod"),
    item(APP, "azure", "azure.web.function_app", "eastus", "billing-fn", "dev"),
    item(RUN, "gcp", "gcp.run.service", "us-central1", "thumbs", "dev"),
    item("i-0a00000000000001", "aws", "aws.ec2.instance", "us-east-1", "orders-vm", "dev"),
]


@pytest.fixture(scope="module")
def planner() -> Planner:
    return Planner(OpsCatalog(), load_knowledge())


@pytest.mark.parametrize(
    ("query", "operation", "target"),
    [
        ("stop the lambda orders", "aws.lambda.stop_function", ARN),
        ("start the lambda function orders", "aws.lambda.start_function", ARN),
        ("restart lambda orders", "aws.lambda.restart_function", ARN),
        ("restart function app billing-fn", "azure.functions.restart_app", APP),
        ("stop the function app billing-fn", "azure.functions.stop_app", APP),
        ("stop the cloud run service thumbs", "gcp.run.scale_to_zero", RUN),
        ("restart the cloud run service thumbs", "gcp.run.restart_service", RUN),
    ],
)
def test_function_requests_plan_the_function_operation(
    planner: Planner, query: str, operation: str, target: str
) -> None:
    resp = planner.ask(AskRequest(query=query, context=ESTATE))
    assert isinstance(resp, ExecutionResponse), resp.summary
    assert [(s.operation_id, s.targets) for s in resp.steps] == [(operation, [target])]


def test_stopping_every_dev_function_leaves_the_vm_and_production_alone(planner: Planner) -> None:
    resp = planner.ask(AskRequest(query="stop all dev functions", context=ESTATE))
    assert isinstance(resp, ExecutionResponse), resp.summary
    assert sorted((s.operation_id, t) for s in resp.steps for t in s.targets) == [
        ("aws.lambda.stop_function", ARN),
        ("azure.functions.stop_app", APP),
        ("gcp.run.scale_to_zero", RUN),
    ]
