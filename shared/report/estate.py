"""The estate a report describes: the latest scan, filled in from earlier scans where it did not look.

A scan filtered by check (``--checks 'aws.s3.*'``) or region, or one that could not read a service, says
nothing about the rest of the estate. Reporting only what it saw would silently drop root MFA or open SSH
from the morning report. So the report's estate is built per unit of evidence, (check, cloud, collector task,
region): each unit comes from the newest scan that evaluated it, walking back to the last *full* scan (one
that ran every registered check of its clouds). Which task reads a record type is what the collectors declare
(``PRODUCES``), never a guess from the type's name: ``gcp.compute.instance`` is read by ``instances``. What comes from an older scan keeps its date, and the report
says so at the top.

Pure: the caller loads the scans (newest first) and says which checks exist; nothing here reads a store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from escher.scans.model import Finding, Inventory, Record, ScanResult

__all__ = ["EstateView", "Scope", "is_full", "merge_scans", "reading_tasks", "scope_of"]


@dataclass(frozen=True, slots=True)
class Scope:
    """What one scan looked at. ``read`` is empty when the scan does not say (an inventory handed in)."""

    checks: frozenset[str]
    read: frozenset[tuple[str, str, str]]  # (cloud, collector task, region) read completely

    def clouds(self) -> set[str]:
        if self.read:
            return {c for c, _, _ in self.read}
        return {k.split(".", 1)[0] for k in self.checks}

    def covers_finding(self, f: Finding) -> bool:
        return f.check_id in self.checks and self._reads(f.cloud, f.resource_type, f.region)

    def covers_record(self, r: Record) -> bool:
        return self._reads(r.cloud, r.type, r.region)

    def _reads(self, cloud: str, rtype: str, region: str) -> bool:
        if not self.read:  # the scan did not record what it read: it read what it was given
            return True
        return any(
            (cloud, task, region) in self.read or (cloud, task, "global") in self.read
            for task in reading_tasks(cloud, rtype)
        )


@cache
def reading_tasks(cloud: str, rtype: str) -> frozenset[str]:
    """The collector tasks that read ``rtype``, by the names ``Inventory.covered`` records: what the collectors
    declare (``gcp.compute.instance`` comes from ``instances``, ``aws.ec2.region_settings`` from
    ``region_settings``). A type no collector declares (one an older version stored) has only its name to go
    by: its service segment."""
    from escher.scans.collect.coverage import COLLECTORS, producing_tasks

    tasks = producing_tasks(cloud, rtype) if cloud in COLLECTORS else frozenset()
    return tasks or frozenset({rtype.split(".")[1] if rtype.count(".") >= 2 else rtype})


def scope_of(scan: ScanResult) -> Scope:
    # every check the engine ran is a key of ``passed`` (0 when nothing passed), so it is the scan's selection
    checks = set(scan.passed) | {f.check_id for f in scan.findings}
    return Scope(frozenset(checks), frozenset(tuple(c) for c in scan.inventory.covered))  # type: ignore[misc]


def _age(then: datetime, now: datetime) -> str:
    days = (now - then).days
    when = then.date().isoformat()
    if days < 1:
        return f"{when} (earlier today)"
    return f"{when} ({days} day{'s' if days != 1 else ''} old)"


@dataclass(slots=True)
class EstateView:
    """The latest scan with the gaps filled: ``scan`` is what the report builder reads."""

    scan: ScanResult
    as_of: dict[str, str] = field(default_factory=dict)  # finding id -> "2026-12-05 (2 days old)"
    notes: list[str] = field(default_factory=list)  # said at the top of the report
    full_scan_id: str | None = None  # the last full scan the gaps came from (None: the latest is full)


def merge_scans(
    latest: ScanResult, older_scans: Iterable[ScanResult], all_checks: dict[str, set[str]]
) -> EstateView:
    """``older_scans`` newest first, read lazily: the walk stops at the first full one.
    ``all_checks``: cloud -> the ids of its registered checks."""
    scope = scope_of(latest)
    missing_checks = _missing(scope, all_checks)
    findings = list(latest.findings)
    records = list(latest.inventory.records)
    passed = dict(latest.passed)
    seen_findings = {f.id for f in findings}
    seen_records = {(r.type, r.id) for r in records}
    newer = [scope]
    as_of: dict[str, str] = {}
    carried_from: list[tuple[ScanResult, int]] = []
    full_id: str | None = None
    for older in older_scans:
        label = _age(older.started_at, latest.started_at)
        taken = 0
        for f in older.findings:
            if f.id in seen_findings or any(s.covers_finding(f) for s in newer):
                continue
            findings.append(f)
            seen_findings.add(f.id)
            as_of[f.id] = label
            taken += 1
        for r in older.inventory.records:
            key = (r.type, r.id)
            if key in seen_records or any(s.covers_record(r) for s in newer):
                continue
            records.append(r)
            seen_records.add(key)
        for check, n in older.passed.items():
            passed.setdefault(check, n)
        if taken:
            carried_from.append((older, taken))
        older_scope = scope_of(older)
        newer.append(older_scope)
        if not _missing(older_scope, all_checks):
            full_id = older.scan_id
            break
    merged = ScanResult(
        scan_id=latest.scan_id,
        started_at=latest.started_at,
        finished_at=latest.finished_at,
        inventory=Inventory(
            records=records,
            errors=list(latest.inventory.errors),
            covered=list(latest.inventory.covered),
            collected_at=latest.inventory.collected_at,
        ),
        findings=findings,
        passed=passed,
    )
    notes = _notes(latest, missing_checks, carried_from, full_id)
    return EstateView(merged, as_of, notes, full_id)


def is_full(scan: ScanResult, all_checks: dict[str, set[str]]) -> bool:
    """The scan ran every registered check of the clouds it read (no --checks filter)."""
    return not _missing(scope_of(scan), all_checks)


def _missing(scope: Scope, all_checks: dict[str, set[str]]) -> set[str]:
    wanted: set[str] = set()
    for cloud in scope.clouds():
        wanted |= all_checks.get(cloud, set())
    return wanted - scope.checks


def _notes(
    latest: ScanResult,
    missing: set[str],
    carried: list[tuple[ScanResult, int]],
    full_id: str | None,
) -> list[str]:
    notes: list[str] = []
    if missing:
        ran = len(scope_of(latest).checks)
        notes.append(
            f"The latest scan ({latest.started_at:%Y-%m-%d %H:%M} UTC) ran {ran} of {ran + len(missing)} checks"
            " (a filtered scan)."
        )
    for scan, n in carried:
        age = _age(scan.started_at, latest.started_at)
        notes.append(
            f"{n} finding{'s' if n != 1 else ''} of parts it did not look at come from the scan of {age}"
            " and are marked with that date."
        )
    if missing and full_id is None:
        shown = ", ".join(sorted(missing)[:5]) + (", ..." if len(missing) > 5 else "")
        notes.append(
            f"No earlier full scan to fill in {len(missing)} checks not run ({shown}): "
            "their findings are not in this report. Run `escher scan` without --checks."
        )
    return notes
