"""From scan to plan for the database and deployment intents of issue 21 item 6: the Azure and GCP scans of the
replayed estates (azure-core's pipeline, googleapiclient's discovery client) keep the SQL databases, Cloud SQL
instances, function apps and Cloud Run services; ``escher ask`` (local planner, the estate as its context) then
plans each new operation on exactly the scanned resource the request names, with parameters the operation
accepts."""

from __future__ import annotations

from typing import Any

import pytest

from escher.ops import OPERATIONS
from escher.scans.model import Record
from tests.functional.scans import azure_estate, gcp_estate
from tests.functional.scans.test_functions_in_estate import APP, RUN, ask, own_azurite, own_gcs, scanned

__all__ = ["own_azurite", "own_gcs", "scanned"]  # the fixtures, shared with the functions' scan test

ORDERS = (f"/subscriptions/{azure_estate.SUB}/resourceGroups/rg-db/providers/Microsoft.Sql/servers/"
          "{server}/databases/orders")  # fmt: skip
MYSQL = f"projects/{gcp_estate.PROJECT}/instances/mysql-open"


@pytest.mark.parametrize(
    ("query", "operation", "target", "params"),
    [
        ("roll back billing-fn", "azure.functions.swap_slot", APP, {"slot": "staging"}),
        ("roll back the cloud run service thumbs", "gcp.run.rollback_revision", RUN, {}),
        ("restart mysql-open", "gcp.sql.restart_instance", MYSQL, {}),
        ("increase the storage of mysql-open by 20%", "gcp.sql.increase_storage", MYSQL, {"increase_percent": 20}),
        ("resize mysql-open to db-custom-2-7680", "gcp.sql.resize_instance", MYSQL, {"tier": "db-custom-2-7680"}),
        ("increase the max size of orders", "azure.sql.increase_max_size", ORDERS, {"increase_percent": 25}),
        ("resize orders to GP_Gen5_4", "azure.sql.resize_database", ORDERS, {"sku": "GP_Gen5", "capacity": 4}),
    ],
)  # fmt: skip
def test_ask_plans_the_new_operation_on_exactly_the_scanned_resource(
    scanned: list[Record], query: str, operation: str, target: str, params: dict[str, Any]
) -> None:
    if "{server}" in target:  # the private server's name is the replayed estate's
        (db,) = [r for r in scanned if r.type == "azure.sql.database" and r.name == "orders"]
        target = db.id
    response = ask(query)["response"]
    assert isinstance(response, dict) and response["kind"] == "execution", response
    ((op, targets, got),) = [(s["operation_id"], s["targets"], s["params"]) for s in response["steps"]]
    assert (op, targets) == (operation, [target])
    assert {k: v for k, v in got.items() if v is not None} == params
    OPERATIONS.get(op).parse_params(got)


def test_a_lambda_alias_of_a_function_not_in_the_estate_plans_nothing(scanned: list[Record]) -> None:
    # the scanned estates have no Lambda: an alias is never invented for a name the estate lacks
    response = ask("roll back orders-api:live")["response"]
    assert isinstance(response, dict) and response["kind"] == "information", response
    assert "orders-api" in str(response["summary"])
