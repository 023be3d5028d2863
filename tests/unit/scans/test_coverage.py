"""Every registered check is fed: what it reads (``reads=``) is produced by some collector task (``PRODUCES``).

A check nobody feeds never gives a verdict, and a scan reports nothing about it: that looks like a pass. These
tests fail, naming the check and what it misses, the moment one is registered (or a collector stops producing
an attribute). Whether the declarations are true is checked against real collector output in
tests/functional/scans/test_every_check_fed.py (Azure, GCP) and test_aws_produces.py (AWS on moto).
"""

from __future__ import annotations

from escher.scans.checks.base import CHECKS, Check, check
from escher.scans.collect.coverage import COLLECTORS, coverage, not_produced, produced, tables
from escher.scans.engine import select_checks
from escher.scans.model import Severity


def test_every_registered_check_reads_only_what_a_collector_produces() -> None:
    unfed = {cid: missing for cov in coverage(select_checks()).values() for cid, missing in cov.unfed.items()}
    assert not unfed, (
        "checks no collector feeds (check -> what it reads that nothing produces):\n"
        + "\n".join(f"  {cid}: {', '.join(missing)}" for cid, missing in sorted(unfed.items()))
    )


def test_every_check_declares_what_it_reads() -> None:
    silent = [c.id for c in select_checks() if not c.reads]
    assert not silent, f"checks without reads=: {silent}"


def test_a_check_reading_what_nothing_produces_is_named_with_what_it_misses() -> None:
    """The test above can fail: a check on an unproduced attribute, an unproduced type, or declaring nothing."""
    azure = produced("azure")

    def fake(resource: str, reads: tuple[str, ...]) -> Check:
        return Check(
            id="azure.test.fake",
            title="t",
            severity=Severity.LOW,
            resource_type=resource,
            category="security",
            risk="r",
            remediation="r",
            fn=lambda rec, ctx: None,
            reads=reads,
        )

    assert not_produced(fake("azure.keyvault.vault", ("purge_protection",)), azure) == []
    assert not_produced(fake("azure.keyvault.vault", ("purge_protection", "hsm_pool")), azure) == [
        "azure.keyvault.vault:hsm_pool"
    ]
    assert not_produced(fake("azure.web.app", ("https_only",)), azure) == ["azure.web.app"]
    assert not_produced(fake("azure.compute.snapshot", ("gcp.compute.disk:id",)), azure) == [
        "gcp.compute.disk"
    ]
    assert not_produced(fake("azure.keyvault.vault", ()), azure) == ["(the check declares no reads)"]
    cov = coverage([*select_checks(clouds=["azure"]), fake("azure.web.app", ("https_only",))])["azure"]
    assert cov.unfed == {"azure.test.fake": ["azure.web.app"]}
    assert cov.can_fire == len(cov.registered) - 1


def test_the_check_decorator_records_reads_and_attr_checks_derive_them() -> None:
    assert CHECKS.get("azure.keyvault.purge_protection").needs == {
        ("azure.keyvault.vault", "purge_protection")
    }
    assert ("aws.ec2.volume", "id") in CHECKS.get("aws.ec2.snapshot_orphaned").needs
    assert ("gcp.compute.disk", "id") in CHECKS.get("gcp.compute.snapshot_old").needs

    @check("azure.test.decorated", resource="azure.keyvault.vault", title="t", severity=Severity.LOW, risk="r",
           remediation="r", reads=("soft_delete",))  # fmt: skip
    def decorated(rec, ctx):  # type: ignore[no-untyped-def]
        return None

    try:
        assert CHECKS.get("azure.test.decorated").reads == ("soft_delete",)
    finally:
        CHECKS._entries.pop("azure.test.decorated", None)


def test_each_collector_declares_what_every_one_of_its_tasks_produces() -> None:
    from escher.clouds.aws.collect import AwsCollector
    from escher.clouds.azure.collect import AzureCollector
    from escher.clouds.gcp.collect import GcpCollector
    from escher.ops.context import CloudContext

    built = {
        "aws": AwsCollector(["us-east-1"]).tasks(),
        "azure": AzureCollector("sub", ctx=CloudContext()).tasks(),
        "gcp": GcpCollector("proj", ctx=CloudContext()).tasks(),
    }
    assert set(built) == set(COLLECTORS)
    for cloud, tasks in built.items():
        declared = tables(cloud)
        assert {t.service for t in tasks} == set(declared), cloud
        for task in tasks:
            assert task.produces == declared[task.service] and task.produces, (cloud, task.service)
            assert all(type_.startswith(f"{cloud}.") for type_ in task.produces)


def test_the_tasks_that_produce_a_record_type_are_named_as_covered_names_them() -> None:
    from escher.scans.collect.coverage import producing_tasks

    assert producing_tasks("gcp", "gcp.compute.instance") == {"instances"}
    assert producing_tasks("gcp", "gcp.compute.subnetwork") == {"subnetworks"}
    assert producing_tasks("azure", "azure.compute.snapshot") == {"snapshots"}
    assert producing_tasks("aws", "aws.ec2.snapshot") == {"ec2"}
    assert producing_tasks("azure", "azure.web.app") == frozenset()
