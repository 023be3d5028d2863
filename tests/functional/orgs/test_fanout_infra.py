"""The organization scan's wiring in the Azure and GCP Extensions (issue #19 item 4), under Pulumi mocks.

Azure: a Storage queue and the host's poison queue in the state account, the worker told where the queue is,
the Functions host's queue settings (one message at a time per instance, poison after a bounded number of
dequeues) as app settings, the queue trigger in the package bound to that queue through that connection, and
the worker's identity allowed the queue. GCP: a scan topic the worker may publish to, pushed by a subscription
with a dead-letter policy to a scan function of bounded instances, one request each, run from the worker's
source with the worker's environment, and Pub/Sub's agent allowed to forward dead letters."""

from __future__ import annotations

from typing import Any

import pytest

from escher.clouds.azure.fanout import MAX_DEQUEUE_COUNT, POISON_QUEUE, QUEUE_CONNECTION, SCAN_QUEUE
from escher.clouds.gcp.fanout import MAX_DELIVERY_ATTEMPTS
from tests.functional.infra.conftest import make_spec, run_under_mocks

pytest.importorskip("pulumi")

AZ = "azure-native:"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
T_FUNCTION = "gcp:cloudfunctionsv2/function:Function"
T_SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
T_TOPIC_MEMBER = "gcp:pubsub/topicIAMMember:TopicIAMMember"
PUBSUB_AGENT = "serviceAccount:service-123456789@gcp-sa-pubsub.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Any:
    bundle = tmp_path_factory.mktemp("bundle") / "worker.zip"
    bundle.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    return run_under_mocks(make_spec("azure", str(bundle)))


@pytest.fixture(scope="module")
def gcp(tmp_path_factory: pytest.TempPathFactory) -> Any:
    bundle = tmp_path_factory.mktemp("bundle") / "worker.zip"
    bundle.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    return run_under_mocks(make_spec("gcp", str(bundle)))


def _app_settings(deployed: Any) -> dict[str, str]:
    [app] = [r for r in deployed.of_type(f"{AZ}web:WebApp") if r.name == "worker"]
    return {s["name"]: s["value"] for s in app.inputs["siteConfig"]["appSettings"]}


def test_azure_the_scan_queue_and_its_poison_queue_are_in_the_state_account(azure: Any) -> None:
    queues = {r.name: r.inputs for r in azure.of_type(f"{AZ}storage:Queue")}
    assert queues["scan-queue"]["queueName"] == SCAN_QUEUE
    assert (
        queues["scan-poison-queue"]["queueName"] == POISON_QUEUE == f"{SCAN_QUEUE}-poison"
    )  # the host's name
    state = azure.one(f"{AZ}storage:StorageAccount", "state")
    assert {q["accountName"] for q in queues.values()} == {"state-mock"} and state["kind"] == "StorageV2"
    assert azure.outputs["scan_queue"] == _app_settings(azure)["ESCHER_SCAN_QUEUE_URL"]


def test_azure_the_host_takes_one_message_at_a_time_and_gives_up_after_a_few_dequeues(azure: Any) -> None:
    settings = _app_settings(azure)
    endpoint = "https://state-mock.queue.core.windows.net"
    assert settings["ESCHER_SCAN_QUEUE_URL"] == f"azqueue://{SCAN_QUEUE}?account_url={endpoint}"
    assert settings[f"{QUEUE_CONNECTION}__queueServiceUri"] == endpoint  # the identity's connection, no key
    host = "AzureFunctionsJobHost__extensions__queues__"
    assert settings[f"{host}batchSize"] == "1" and settings[f"{host}newBatchThreshold"] == "0"
    assert settings[f"{host}maxDequeueCount"] == str(MAX_DEQUEUE_COUNT) == "3"
    assert not any("AccountKey" in v for v in settings.values())


def test_azure_the_packages_queue_trigger_reads_that_queue_through_that_connection() -> None:
    from tests.harness.azure_functions import indexed_functions

    trigger = indexed_functions()["scan_account"].get_trigger()
    assert trigger.get_binding_name() == "queueTrigger"
    assert (trigger.queue_name, trigger.connection) == (SCAN_QUEUE, QUEUE_CONNECTION)


def test_azure_the_worker_identity_may_use_the_queue_of_the_state_account_only(azure: Any) -> None:
    grant = azure.one(f"{AZ}authorization:RoleAssignment", "grant-scan-queue")
    assert grant["roleDefinitionId"].endswith(f"/roleDefinitions/{QUEUE_DATA_CONTRIBUTOR}")
    assert grant["scope"] == "state-id"  # the state account, not the group or the subscription
    assert grant["principalType"] == "ServicePrincipal"


def test_gcp_the_worker_publishes_to_the_scan_topic(gcp: Any) -> None:
    worker = gcp.one(T_FUNCTION, "worker")
    env = worker["serviceConfig"]["environmentVariables"]
    assert env["ESCHER_SCAN_QUEUE_URL"] == "pubsub://projects/escher-test/topics/scan-queue-mock"
    [may] = [r.inputs for r in gcp.of_type(T_TOPIC_MEMBER) if r.name == "worker-may-queue-scans"]
    assert (may["topic"], may["role"]) == ("scan-queue-mock", "roles/pubsub.publisher")
    assert worker["buildConfig"]["entryPoint"] == "on_schedule"  # the worker itself is unchanged
    assert "maxInstanceRequestConcurrency" not in worker["serviceConfig"]
    assert gcp.outputs["scan_topic"] == "scan-queue-mock"
    assert gcp.outputs["scan_dead_letter_topic"] == "scan-dead-letters-mock"


def test_gcp_a_bounded_scan_function_from_the_same_source_with_the_same_environment(gcp: Any) -> None:
    worker, scanner = gcp.one(T_FUNCTION, "worker"), gcp.one(T_FUNCTION, "scanner")
    assert scanner["buildConfig"]["entryPoint"] == "on_scan"
    assert scanner["buildConfig"]["source"] == worker["buildConfig"]["source"]
    service = scanner["serviceConfig"]
    assert service["maxInstanceCount"] == 10 and service["maxInstanceRequestConcurrency"] == 1
    assert service["environmentVariables"] == worker["serviceConfig"]["environmentVariables"]
    [invoker] = [r.inputs for r in gcp.resources if r.name == "invoker-may-invoke-scanner"]
    assert (invoker["name"], invoker["role"]) == ("scanner-mock", "roles/run.invoker")
    import functions_framework

    from tests.functional.deployed.harness import REPO

    main = REPO / "workers" / "gcp" / "main.py"
    assert functions_framework.create_app("on_scan", str(main), "http") is not None  # the target exists


def test_gcp_the_push_subscription_dead_letters_after_a_bounded_number_of_deliveries(gcp: Any) -> None:
    push = gcp.one(T_SUBSCRIPTION, "scan-to-scanner")
    assert push["topic"] == "scan-queue-id"
    policy = push["deadLetterPolicy"]
    assert policy == {"deadLetterTopic": "scan-dead-letters-id", "maxDeliveryAttempts": MAX_DELIVERY_ATTEMPTS}
    assert 5 <= MAX_DELIVERY_ATTEMPTS <= 100  # Pub/Sub's bounds
    assert push["ackDeadlineSeconds"] == 600 and "oidcToken" in push["pushConfig"]
    kept = gcp.one(T_SUBSCRIPTION, "scan-dead-letters-kept")
    assert kept["topic"] == "scan-dead-letters-id" and kept["messageRetentionDuration"] == "604800s"
    members = {
        r.name: r.inputs for r in gcp.resources if "IAMMember" in r.type and r.name.startswith("scan-")
    }
    assert members["scan-dead-letters-publisher"]["member"] == PUBSUB_AGENT
    assert members["scan-dead-letters-publisher"]["topic"] == "scan-dead-letters-mock"
    assert members["scan-dead-letters-subscriber"]["subscription"] == "scan-to-scanner-mock"
