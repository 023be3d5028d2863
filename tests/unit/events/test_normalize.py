"""Facts about normalization, written by hand (independent of the golden files)."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from escher.events import (
    NORMALIZERS,
    CloudProvider,
    EventType,
    NormalizationError,
    UnifiedEvent,
    normalize,
    normalize_batch,
)
from escher.registry import KEY_PATTERN
from tests.unit.events._samples import RECEIVED_AT, sample


def test_event_ids_are_the_providers_delivery_ids() -> None:
    # idempotency keys are built from these: they must be the transport's own ids, not computed ones
    assert normalize(sample("aws", "guardduty_finding")).event_id == "c8c4daa7-a20c-2f03-0070-b7393dd542ad"
    assert (
        normalize(sample("azure", "vm_deallocate_action")).event_id == "9c1f2e3d-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
    )
    assert (
        normalize(sample("azure", "nsg_rule_write_cloudevent")).event_id
        == "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    )
    assert normalize(sample("gcp", "instances_stop")).event_id == "11111111111004"
    assert normalize(sample("gcp", "firewall_patch_world_cloudevent")).event_id == "11111111111003"


def test_azure_alert_fired_and_resolved_are_two_events_with_stable_ids() -> None:
    fired = sample("azure", "metric_alert_sql_storage")
    resolved = copy.deepcopy(fired)
    resolved["data"]["essentials"]["monitorCondition"] = "Resolved"
    resolved["data"]["essentials"]["resolvedDateTime"] = "2024-05-02T09:45:00Z"
    a, b = normalize(fired), normalize(resolved)
    assert a.event_id != b.event_id and a.event_id.endswith(":Fired")
    assert b.resource.metadata["state"] == "ok" and a.resource.metadata["state"] == "alarm"
    assert normalize(fired).event_id == a.event_id


def test_budget_alert_without_an_id_gets_the_same_content_id_on_redelivery() -> None:
    first = normalize(sample("azure", "budget_alert_200_percent"), received_at=RECEIVED_AT)
    again = normalize(json.dumps(sample("azure", "budget_alert_200_percent")))
    assert first.event_id == again.event_id and first.event_id.startswith("sha256:")


def test_public_acl_is_public_and_private_acl_is_not() -> None:
    public = normalize(sample("aws", "s3_put_bucket_acl_public"))
    private = normalize(sample("aws", "s3_put_bucket_acl_private"))
    assert public.event_type is EventType.storage_bucket_public
    assert public.resource.metadata["evidence"] == ["READ granted to AllUsers"]
    assert (
        private.event_type is EventType.storage_bucket_changed
        and private.resource.metadata["public"] is False
    )


def test_bucket_policy_with_a_condition_is_not_called_public() -> None:
    payload = sample("aws", "s3_put_bucket_policy_public")
    statement = payload["detail"]["requestParameters"]["bucketPolicy"]["Statement"][0]
    statement["Condition"] = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    assert normalize(payload).event_type is EventType.storage_bucket_changed


def test_failed_cloudtrail_call_is_api_call_failed_not_a_public_bucket() -> None:
    # GIVEN a PutBucketAcl asking for public-read that AWS denied
    event = normalize(sample("aws", "s3_put_bucket_acl_access_denied"))
    # THEN nothing became public: the event is the failed attempt, with why it failed
    assert event.event_type is EventType.api_call_failed
    assert event.resource.metadata["attempted"] == "s3.amazonaws.com:PutBucketAcl"
    assert event.resource.metadata["error_code"] == "AccessDenied"
    assert event.resource.name == "my-data"


def test_failed_gcp_audit_entry_is_api_call_failed() -> None:
    event = normalize(sample("gcp", "audit_permission_denied"))
    assert event.event_type is EventType.api_call_failed and event.resource.metadata["error_code"] == "7"


def test_security_group_ingress_from_a_private_range_is_not_open_to_world() -> None:
    payload = sample("aws", "ec2_authorize_ingress_world")
    payload["detail"]["requestParameters"]["ipPermissions"]["items"][0]["ipRanges"]["items"][0]["cidrIp"] = (
        "10.0.0.0/8"
    )
    assert normalize(payload).event_type is EventType.security_group_changed
    assert normalize(sample("aws", "ec2_authorize_ingress_world")).resource.metadata["open_ports"] == [22]


@pytest.mark.parametrize(
    ("cloud", "name"),
    [
        ("aws", "ecs_task_state_change_generic"),
        ("azure", "blob_created_generic"),
        ("gcp", "plain_text_generic"),
    ],
)
def test_a_known_envelope_of_an_unknown_kind_is_a_generic_event(cloud: str, name: str) -> None:
    event = normalize(sample(cloud, name))
    assert event.event_type is EventType.generic and event.cloud_provider is CloudProvider(cloud)
    assert event.raw_event == sample(cloud, name)


def test_unknown_cloudtrail_api_is_generic_with_its_event_name() -> None:
    payload = sample("aws", "ec2_run_instances")
    payload["detail"]["eventName"] = "DescribeInstances"
    event = normalize(payload)
    assert event.event_type is EventType.generic and event.resource.name == "DescribeInstances"


def test_event_grid_schema_and_cloudevents_schema_give_the_same_event() -> None:
    grid = sample("azure", "resource_write_storage_account")
    cloud_event = {
        "specversion": "1.0",
        "type": grid["eventType"],
        "source": grid["topic"],
        "subject": grid["subject"],
        "id": grid["id"],
        "time": grid["eventTime"],
        "data": grid["data"],
    }
    a, b = normalize(grid), normalize(cloud_event)
    assert a.model_dump(exclude={"raw_event"}) == b.model_dump(exclude={"raw_event"})


def test_pubsub_push_and_cloudevent_forms_give_the_same_event() -> None:
    push = sample("gcp", "instances_stop")
    wrapped = {
        "specversion": "1.0",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": "//pubsub.googleapis.com/projects/shop-prod-4711/topics/t",
        "id": "x",
        "time": "2024-05-02T09:15:01Z",
        "data": push,
    }
    a, b = normalize(push), normalize(wrapped)
    assert a.model_dump(exclude={"raw_event"}) == b.model_dump(exclude={"raw_event"})


def test_dict_bytes_and_str_inputs_are_equivalent() -> None:
    payload = sample("aws", "rds_instance_shutdown")
    text = json.dumps(payload)
    assert normalize(payload) == normalize(text) == normalize(text.encode())


def test_event_grid_batches() -> None:
    one, two = sample("azure", "vm_deallocate_action"), sample("azure", "disk_delete_success")
    assert normalize([one]).event_id == one["id"]
    assert [e.event_id for e in normalize_batch([one, two])] == [one["id"], two["id"]]
    with pytest.raises(NormalizationError, match="normalize_batch"):
        normalize([one, two])


@pytest.mark.parametrize("payload", [b"not json", "[]", "42", '{"hello": "world"}', b"\xff\xfe"])
def test_what_is_no_envelope_raises_the_typed_error(payload: Any) -> None:
    with pytest.raises(NormalizationError) as info:
        normalize(payload)
    assert info.value.field == "<root>" and info.value.hint


def test_error_names_the_source_kind_and_the_field() -> None:
    payload = sample("aws", "s3_put_bucket_policy_public")
    del payload["detail"]["requestParameters"]["bucketName"]
    with pytest.raises(NormalizationError) as info:
        normalize(payload)
    assert info.value.source_kind == "EventBridge CloudTrail s3:PutBucketPolicy"
    assert info.value.field == "detail.requestParameters.bucketName"


@pytest.mark.parametrize(
    ("break_it", "field"),
    [
        (lambda f: f.pop("Id"), "detail.findings[0].Id"),
        (lambda f: f.update(Severity="HIGH"), "detail.findings[0].Severity"),
        (lambda f: f["Resources"].insert(0, "not an object"), "detail.findings[0].Resources[0]"),
    ],
)
def test_error_in_a_list_item_names_its_index(break_it: Any, field: str) -> None:
    # the path of a nested or listed object is written only when an error needs it: it must still be exact
    payload = sample("aws", "securityhub_finding_failed")
    break_it(payload["detail"]["findings"][0])
    with pytest.raises(NormalizationError) as info:
        normalize(payload)
    assert info.value.field == field


def test_pubsub_data_that_is_not_base64_is_an_error_on_message_data() -> None:
    payload = sample("gcp", "instances_stop")
    payload["message"]["data"] = "%%% not base64 %%%"
    with pytest.raises(NormalizationError) as info:
        normalize(payload)
    assert info.value.field == "message.data"


def test_unified_event_is_frozen_and_rejects_unknown_fields() -> None:
    event = normalize(sample("aws", "guardduty_finding"))
    with pytest.raises(ValidationError):
        event.severity = "CRITICAL"  # type: ignore[assignment]
    data = event.model_dump()
    data["surprise"] = 1
    with pytest.raises(ValidationError):
        UnifiedEvent.model_validate(data)
    with pytest.raises(ValidationError):
        UnifiedEvent.model_validate({**event.model_dump(), "event_type": "s3_bucket_public"})


def test_timestamp_serializes_as_iso_8601() -> None:
    event = normalize(sample("gcp", "monitoring_incident_cloudsql_disk"))
    assert event.model_dump(mode="json")["timestamp"] == "2024-05-02T09:10:00Z"  # started_at epoch 1714641000


def test_registry_keys_and_metadata() -> None:
    for key, entry in NORMALIZERS.items():
        assert KEY_PATTERN.match(key) and entry.key == key
        assert entry.docs.startswith("https://") and entry.event_types and entry.routes


def test_importing_escher_events_loads_no_cloud_module_and_no_sdk() -> None:
    # .pth files of google-* namespace packages put bare namespaces in sys.modules at start-up: compare
    code = (
        "import sys; before = set(sys.modules); import escher.events, escher.rules; "
        "new = set(sys.modules) - before; "
        "print(sorted(m for m in new if m in ('escher.clouds.aws.events', 'escher.clouds.azure.events', "
        "'escher.clouds.gcp.events', 'boto3', 'pulumi', 'anthropic') or m.startswith(('azure', 'google'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_pubsub_message_data_is_decoded_from_base64() -> None:
    payload = sample("gcp", "billing_budget_exceeded")
    inner = json.loads(base64.b64decode(payload["message"]["data"]))
    event = normalize(payload)
    assert event.resource.metadata["actual_spend"] == inner["costAmount"]
    assert event.context.cost_impact == pytest.approx(inner["costAmount"] - inner["budgetAmount"])
