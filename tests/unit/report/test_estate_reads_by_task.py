"""A scan read a record type when a task that yields it ran: the collectors' declarations decide, not the type's
name (``gcp.compute.instance`` is read by ``instances``; a scan with a ``compute`` task would not exist)."""

from __future__ import annotations

import pytest

from escher.report.estate import Scope, reading_tasks
from escher.scans.collect.coverage import COLLECTORS, tables
from escher.scans.model import Record

DECLARED = sorted(
    (cloud, type_, task) for cloud in COLLECTORS for task, table in tables(cloud).items() for type_ in table
)


def _scope(*read: tuple[str, str, str]) -> Scope:
    return Scope(frozenset(), frozenset(read))


@pytest.mark.parametrize(("cloud", "rtype", "task"), DECLARED)
def test_a_type_is_read_by_the_task_that_yields_it_and_by_no_other(cloud: str, rtype: str, task: str) -> None:
    record = Record(cloud, rtype, "r-1", "europe-west1", "acct")
    assert _scope((cloud, task, "europe-west1")).covers_record(record)
    assert _scope((cloud, task, "global")).covers_record(record)  # a task that reads every region at once
    assert not _scope((cloud, task, "us-east-1")).covers_record(record)
    others = {t for t in tables(cloud) if t not in reading_tasks(cloud, rtype)}
    assert not _scope(*((cloud, t, "global") for t in others)).covers_record(record)


def test_the_types_not_named_after_their_task() -> None:
    guessed = {(c, t): t.split(".")[1] for c, t, _ in DECLARED}
    misnamed = {(c, t) for (c, t), g in guessed.items() if g not in reading_tasks(c, t)}
    assert misnamed == {
        ("aws", "aws.ec2.region_settings"),
        ("azure", "azure.compute.disk"),
        ("azure", "azure.compute.snapshot"),
        ("azure", "azure.entra.tenant"),  # the `graph` task (Microsoft Graph)
        ("azure", "azure.network.app_gateway"),  # the `appgateway` task
        ("azure", "azure.storage.container"),
        ("azure", "azure.web.function_app"),  # the `functions` task
        ("gcp", "gcp.compute.backend_service"),  # the `backend_services` task
        ("gcp", "gcp.compute.disk"),
        ("gcp", "gcp.compute.firewall"),
        ("gcp", "gcp.compute.instance"),
        ("gcp", "gcp.compute.network"),  # the `networks` task
        ("gcp", "gcp.compute.snapshot"),
        ("gcp", "gcp.compute.subnetwork"),
    }


def test_a_type_no_collector_declares_falls_back_to_its_service() -> None:
    assert reading_tasks("aws", "aws.gone.thing") == {"gone"}
    assert reading_tasks("k8s", "k8s.apps.deployment") == {"apps"}
    assert _scope(("aws", "gone", "global")).covers_record(
        Record("aws", "aws.gone.thing", "x", "us-east-1", "1")
    )


def test_a_scan_that_does_not_say_what_it_read_read_everything() -> None:
    assert _scope().covers_record(Record("gcp", "gcp.compute.instance", "x", "us-central1", "p"))
