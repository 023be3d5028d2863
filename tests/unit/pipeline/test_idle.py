"""The idle-stop map cannot drift: each idle check exists, fixes with the operation the map names, and that
operation is in the catalogue and covered by the stop_idle_instances switch."""

from __future__ import annotations

import pytest

from escher.ops import OPERATIONS
from escher.pipeline.idle import IDLE_CHECKS, idle_hours
from escher.policy.remediation import RemediationSettings, find_switch, pre_approved
from escher.scans.checks.base import CHECKS
from escher.scans.model import Record


@pytest.mark.parametrize(("check_id", "operation"), sorted(IDLE_CHECKS.items()))
def test_idle_check_fixes_with_a_catalogue_operation_the_switch_covers(check_id: str, operation: str) -> None:
    assert CHECKS.get(check_id).fix_operation == operation
    assert OPERATIONS.get(operation).id == operation
    assert operation in find_switch("stop_idle_instances").operations


def test_idle_hours_are_the_days_of_idle_cpu_data() -> None:
    rec = Record("aws", "aws.ec2.instance", "i-1", "us-east-1", "1", attrs={"cpu_days": 7})
    assert idle_hours(rec) == 168.0
    assert idle_hours(Record("aws", "aws.ec2.instance", "i-2", "us-east-1", "1")) is None
    on = RemediationSettings(stop_idle_instances=True, idle_hours=72)
    assert pre_approved(on, "aws.ec2.stop_instances", {"idle_hours": 168.0}) == "stop_idle_instances"
    assert pre_approved(on, "aws.ec2.stop_instances", {"idle_hours": 48.0}) is None
