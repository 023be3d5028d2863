"""Which checks can fire: each check's ``reads`` against what the collectors declare their tasks produce.

A check whose record type or attribute no collector produces never gives a verdict: it is not a pass, it is
a blind spot. :func:`coverage` says which checks those are, per cloud; the unit test fails on any, and
``escher scan --list-checks`` prints the counts. Importing this imports the collector modules only (they load
their SDKs lazily), so listing the checks needs no cloud SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from escher.scans.checks.base import Check
from escher.scans.collect.base import Produces

__all__ = [
    "ACCOUNT_READ",
    "COLLECTORS",
    "RECORD_FIELDS",
    "CloudCoverage",
    "coverage",
    "not_produced",
    "produced",
    "producing_tasks",
]

COLLECTORS = {
    "aws": "escher.clouds.aws.collect",
    "azure": "escher.clouds.azure.collect",
    "gcp": "escher.clouds.gcp.collect",
}
RECORD_FIELDS = frozenset({"id", "name", "region", "account", "tags"})  # every record has them
# An organization scan's ``Inventory.covered`` entry (cloud, ACCOUNT_READ, account id): the account was entered
# and read, all of it or what ``--checks`` needs, even when that left it no record (no bucket to judge).
ACCOUNT_READ = "account"


def tables(cloud: str) -> dict[str, Produces]:
    """The collector's declaration: task (service) name -> what the task produces."""
    found: dict[str, Produces] = importlib.import_module(COLLECTORS[cloud]).PRODUCES
    return found


def produced(cloud: str) -> dict[str, frozenset[str]]:
    """Every record type the cloud's collector yields, with the union of its tasks' attributes."""
    out: dict[str, set[str]] = {}
    for table in tables(cloud).values():
        for type_, attrs in table.items():
            out.setdefault(type_, set()).update(attrs)
    return {type_: frozenset(attrs) for type_, attrs in out.items()}


def producing_tasks(cloud: str, record_type: str) -> frozenset[str]:
    """The collector tasks that yield ``record_type``, by the service names ``Inventory.covered`` records
    (``gcp.compute.instance`` comes from the task ``instances``, not a ``compute`` one): what a reader of
    ``covered`` needs to know whether a scan read a record type."""
    return frozenset(task for task, table in tables(cloud).items() if record_type in table)


def not_produced(check: Check, by_type: dict[str, frozenset[str]]) -> list[str]:
    """What ``check`` reads that nothing produces, as ``type:attr`` (``type`` alone: no record of that type)."""
    missing = []
    for type_, attr in sorted(check.needs):
        if type_ not in by_type:
            missing.append(type_)
        elif attr not in RECORD_FIELDS and attr not in by_type[type_]:
            missing.append(f"{type_}:{attr}")
    if check.resource_type not in by_type and check.resource_type not in missing:
        missing.insert(0, check.resource_type)
    if not check.reads:
        missing.append("(the check declares no reads)")
    return missing


@dataclass(slots=True)
class CloudCoverage:
    cloud: str
    registered: list[str] = field(default_factory=list)
    unfed: dict[str, list[str]] = field(
        default_factory=dict
    )  # check id -> what it reads that is not produced

    @property
    def can_fire(self) -> int:
        return len(self.registered) - len(self.unfed)


def coverage(checks: Iterable[Check]) -> dict[str, CloudCoverage]:
    """Per cloud (in COLLECTORS order): the registered checks and those no collector feeds."""
    out: dict[str, CloudCoverage] = {}
    by_cloud: dict[str, dict[str, frozenset[str]]] = {}
    for chk in checks:
        cov = out.setdefault(chk.cloud, CloudCoverage(chk.cloud))
        if chk.cloud not in by_cloud:
            by_cloud[chk.cloud] = produced(chk.cloud) if chk.cloud in COLLECTORS else {}
        cov.registered.append(chk.id)
        missing = not_produced(chk, by_cloud[chk.cloud])
        if missing:
            cov.unfed[chk.id] = missing
    order = list(COLLECTORS)
    return dict(sorted(out.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
