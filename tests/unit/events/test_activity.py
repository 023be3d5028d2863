"""Activity as the activity APIs return it reaches the same normalizers as the push deliveries."""

from __future__ import annotations

import json

import pytest

from escher.events import NormalizationError, normalize, resolve
from escher.events.activity import trail_records
from tests.unit.events._samples import sample


def test_a_lookup_item_and_its_eventbridge_delivery_meet_the_same_normalizer() -> None:
    pushed = sample("aws", "s3_put_bucket_acl_public")
    looked_up = sample("aws", "cloudtrail_lookup_put_bucket_acl_public")
    raw = pushed["detail"]
    assert resolve(pushed).key == resolve(looked_up).key == resolve(raw).key == "aws.s3.put_bucket_acl"
    a, b = normalize(pushed), normalize(looked_up)
    assert (a.event_type, a.resource, a.region, a.account_id) == (
        b.event_type,
        b.resource,
        b.region,
        b.account_id,
    )
    assert b.event_id == raw["eventID"]  # the record's own id: the same however often it is read


def test_a_trail_log_file_is_split_into_records() -> None:
    record = sample("aws", "cloudtrail_record_run_instances")
    failed = {**record, "eventID": "x-2", "errorCode": "UnauthorizedOperation"}
    events = [normalize(r) for r in trail_records({"Records": [record, failed]})]
    assert [e.event_type.value for e in events] == ["vm_created", "api_call_failed"]
    with pytest.raises(NormalizationError, match="Records"):
        trail_records({"Records": "nope"})


def test_a_lookup_item_whose_record_is_not_json_names_the_field() -> None:
    item = {**sample("aws", "cloudtrail_lookup_put_bucket_acl_public"), "CloudTrailEvent": "{oops"}
    with pytest.raises(NormalizationError, match="CloudTrailEvent"):
        normalize(item)


def test_activity_log_failed_entries_are_generic_and_succeeded_deletes_are_deletes() -> None:
    entry = sample("azure", "activity_log_storage_account_write")
    failed = {**entry, "status": {"value": "Failed", "localizedValue": "Failed"}}
    assert normalize(failed).event_type.value == "generic"
    deleted = {**entry, "operationName": {"value": "Microsoft.Compute/disks/delete"}}
    assert resolve(deleted).key == "azure.resources.delete_success"
    assert normalize(deleted).event_type.value == "resource_deleted"


def test_an_oversized_config_item_is_read_from_its_summary() -> None:
    invocation = sample("aws", "config_item_s3_bucket")
    item = json.loads(invocation["invokingEvent"])["configurationItem"]
    summary = {k: item[k] for k in ("configurationItemCaptureTime", "awsAccountId", "configurationItemStatus",
                                   "resourceId", "resourceName", "ARN", "awsRegion", "resourceType")}  # fmt: skip
    oversized = {
        **invocation,
        "invokingEvent": json.dumps(
            {
                "configurationItemSummary": summary,
                "messageType": "OversizedConfigurationItemChangeNotification",
            }
        ),
    }
    event = normalize(oversized)
    assert (event.event_type.value, event.resource.name) == ("storage_bucket_changed", "my-data")
    gone = {**summary, "configurationItemStatus": "ResourceDeleted"}
    deleted = {**invocation, "invokingEvent": json.dumps({"configurationItem": gone, "messageType": "x"})}
    assert normalize(deleted).event_type.value == "resource_deleted"
