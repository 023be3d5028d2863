"""A framework over a stored scan: one verdict per control, overall and per account.

A control is *manual* when its benchmark says so (the checks mapped to it, if any, are shown as evidence only);
*not implemented* when no Escher check decides it; otherwise each of its checks is looked at in the scan:

- the check did not run in that scan (another cloud, ``--checks``), or its resource type was not collected
  (the service could not be read, or no collector reads it yet): *not read*;
- a failing finding for a resource in scope: *fail*, with the resource;
- else every resource of its type that the check applies to: *pass* (a collected type with no resources passes).

A control fails when any of its checks fails, is not read when none fails but one gave no verdict, and passes
when every check passed. % compliant = pass / (pass + fail). Failures are the stored findings; which resources
passed (and which were out of a check's scope) is worked out by running the check again on the stored records,
at the scan's time, with default thresholds — pure functions, no cloud call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from escher.clouds import CLOUDS
from escher.clouds.provider import one_of
from escher.compliance.catalogue import Control, Framework
from escher.errors import EscherError
from escher.scans.model import Finding, Record, ScanResult, Status

__all__ = [
    "ComplianceError",
    "ComplianceReport",
    "ControlResult",
    "ResourceVerdict",
    "ScanHistory",
    "Verdict",
    "evaluate",
    "latest_scan_for",
    "pick_scan",
    "recent_scans",
]


class ComplianceError(EscherError):
    exit_code = 2


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    MANUAL = "manual"
    NOT_READ = "not read"
    NOT_IMPLEMENTED = "not implemented"

    @classmethod
    def parse(cls, words: Iterable[str]) -> tuple[Verdict, ...]:
        out = []
        for word in (w.strip().lower().replace("_", " ").replace("-", " ") for w in words):
            if not word:
                continue
            try:
                out.append(cls(word))
            except ValueError:
                raise ComplianceError(
                    f"unknown status {word!r}", hint="use pass, fail, manual, not-read or not-implemented"
                ) from None
        return tuple(out)


@dataclass(frozen=True, slots=True)
class ResourceVerdict:
    check_id: str
    resource_id: str
    resource_type: str
    cloud: str
    account: str
    region: str
    status: Status
    message: str = ""
    severity: str = ""
    finding_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "resource_id": self.resource_id,
            "resource_type": self.resource_type,
            "cloud": self.cloud,
            "account": self.account,
            "region": self.region,
            "status": self.status.value,
            "message": self.message,
            "severity": self.severity,
            "finding_id": self.finding_id,
        }


@dataclass(slots=True)
class ControlResult:
    control: Control
    status: Verdict
    checks: tuple[str, ...] = ()  # the checks in scope (after --cloud)
    resources: list[ResourceVerdict] = field(default_factory=list)
    not_read: list[str] = field(default_factory=list)  # "check: why"

    @property
    def failed(self) -> list[ResourceVerdict]:
        return [r for r in self.resources if r.status is Status.FAIL]

    @property
    def passed(self) -> list[ResourceVerdict]:
        """One row per resource that passed every check of the control that applies to it."""
        bad = {r.resource_id for r in self.failed}
        out: dict[str, ResourceVerdict] = {}
        for r in self.resources:
            if r.status is Status.PASS and r.resource_id not in bad:
                out.setdefault(r.resource_id, r)
        return list(out.values())

    def by_resource(self) -> list[tuple[ResourceVerdict, list[ResourceVerdict]]]:
        """Each resource once (failing first) with its failing rows: what OCSF and CSV write per resource."""
        fails: dict[str, list[ResourceVerdict]] = {}
        for r in self.failed:
            fails.setdefault(r.resource_id, []).append(r)
        return [(rows[0], rows) for rows in fails.values()] + [(r, []) for r in self.passed]

    def to_dict(self, *, with_passed: bool = True) -> dict[str, Any]:
        c = self.control
        return {
            "id": c.id,
            "title": c.title,
            "section": c.section,
            "assessment": c.assessment,
            "status": self.status.value,
            "checks": list(self.checks),
            "note": c.note,
            "failed": [r.to_dict() for r in self.failed],
            "passed_count": len(self.passed),
            **({"passed": [r.to_dict() for r in self.passed]} if with_passed else {}),
            "not_read": list(self.not_read),
        }


def counts(results: Iterable[ControlResult]) -> dict[str, int]:
    out = dict.fromkeys((v.value for v in Verdict), 0)
    for r in results:
        out[r.status.value] += 1
    return out


def percent(results: Iterable[ControlResult]) -> float | None:
    """pass / (pass + fail) in %, one decimal; None when no control was decided."""
    c = counts(results)
    decided = c[Verdict.PASS] + c[Verdict.FAIL]
    return round(100.0 * c[Verdict.PASS] / decided, 1) if decided else None


@dataclass(slots=True)
class ComplianceReport:
    framework: Framework
    scan_id: str
    scanned_at: datetime
    clouds: tuple[str, ...]
    controls: list[ControlResult]
    accounts: dict[str, list[ControlResult]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.controls)

    @property
    def percent(self) -> float | None:
        return percent(self.controls)

    def only(self, statuses: tuple[Verdict, ...]) -> list[ControlResult]:
        return [c for c in self.controls if not statuses or c.status in statuses]

    def to_dict(self, *, statuses: tuple[Verdict, ...] = (), with_passed: bool = True) -> dict[str, Any]:
        fw = self.framework
        return {
            "framework": {"id": fw.id, "name": fw.name, "version": fw.version, "cloud": fw.cloud},
            "scan_id": self.scan_id,
            "scanned_at": self.scanned_at.isoformat(),
            "clouds": list(self.clouds),
            "percent_compliant": self.percent,
            "counts": self.counts,
            "accounts": [
                {"account": acct, "percent_compliant": percent(res), "counts": counts(res)}
                for acct, res in self.accounts.items()
            ],
            "controls": [c.to_dict(with_passed=with_passed) for c in self.only(statuses)],
        }


@dataclass(slots=True)
class _CheckOutcome:
    verdicts: list[ResourceVerdict] = field(default_factory=list)
    not_read: str = ""  # why the check gave no verdict, when it gave none


def _clouds(fw: Framework, cloud: str | None) -> tuple[str, ...]:
    if cloud is None:
        return (fw.cloud,) if fw.cloud else CLOUDS
    cloud = cloud.strip().lower()
    if cloud not in CLOUDS:
        raise ComplianceError(f"unknown cloud {cloud!r}", hint=f"use {one_of()}")
    if fw.cloud and fw.cloud != cloud:
        raise ComplianceError(
            f"{fw.id} is a framework for {fw.cloud}, not {cloud}", hint=f"use cis-{cloud} for {cloud}"
        )
    return (cloud,)


def _collected(scan: ScanResult, type_: str) -> bool:
    """Whether a scan read the resource type (so that none of it means there is none): a task that produces the
    type ran. The task names come from the collectors' declarations, as the morning report reads them
    (``aws.ec2.region_settings`` comes from ``region_settings``, not ``ec2``)."""
    from escher.report.estate import reading_tasks

    cloud = type_.split(".", 1)[0]
    tasks = reading_tasks(cloud, type_)
    return any(c == cloud and s in tasks for c, s, _ in scan.inventory.covered)


class _Evaluator:
    def __init__(self, scan: ScanResult) -> None:
        from escher.scans.checks.base import CheckContext

        self.scan = scan
        self.index = scan.inventory.by_type()
        self.ctx = CheckContext(now=scan.started_at, index=self.index)
        self.fails: dict[str, list[Finding]] = {}
        for f in scan.findings:
            if f.status is Status.FAIL:
                self.fails.setdefault(f.check_id, []).append(f)
        self.ran = set(scan.passed) | set(self.fails)
        self._cache: dict[str, _CheckOutcome] = {}

    def outcome(self, check_id: str) -> _CheckOutcome:
        if check_id not in self._cache:
            self._cache[check_id] = self._outcome(check_id)
        return self._cache[check_id]

    def _outcome(self, check_id: str) -> _CheckOutcome:
        from escher.scans.checks.base import CHECKS, _NotApplicable

        chk = CHECKS.find(check_id)
        if chk is None:
            return _CheckOutcome(not_read="no such check in this version of Escher")
        if self.scan.passed and check_id not in self.ran:
            return _CheckOutcome(not_read=f"did not run in scan {self.scan.scan_id}")
        records = self.index.get(chk.resource_type, [])
        failing = {f.resource_id: f for f in self.fails.get(check_id, [])}
        if not records and not failing and not _collected(self.scan, chk.resource_type):
            return _CheckOutcome(not_read=f"{chk.resource_type} was not collected")
        out = _CheckOutcome()
        seen = set()
        for rec in records:
            seen.add(rec.id)
            f = failing.get(rec.id)
            if f is not None:
                out.verdicts.append(_fail(f))
                continue
            result = chk.fn(rec, self.ctx)
            if result is None:
                out.verdicts.append(_pass(check_id, rec))
            elif not isinstance(result, _NotApplicable):
                continue  # the scan did not fail it (other thresholds then): no verdict rather than a guess
        out.verdicts.extend(_fail(f) for rid, f in failing.items() if rid not in seen)
        return out


def _fail(f: Finding) -> ResourceVerdict:
    return ResourceVerdict(
        check_id=f.check_id,
        resource_id=f.resource_id,
        resource_type=f.resource_type,
        cloud=f.cloud,
        account=f.account,
        region=f.region,
        status=Status.FAIL,
        message=f.message,
        severity=f.severity.value,
        finding_id=f.id,
    )


def _pass(check_id: str, rec: Record) -> ResourceVerdict:
    return ResourceVerdict(
        check_id=check_id,
        resource_id=rec.id,
        resource_type=rec.type,
        cloud=rec.cloud,
        account=rec.account,
        region=rec.region,
        status=Status.PASS,
        message="ok",
    )


def _control(control: Control, ev: _Evaluator, clouds: tuple[str, ...], account: str | None) -> ControlResult:
    checks = tuple(k for k in control.checks if k.split(".", 1)[0] in clouds)
    result = ControlResult(control=control, status=Verdict.PASS, checks=checks)
    for check_id in checks:
        outcome = ev.outcome(check_id)
        if outcome.not_read:
            result.not_read.append(f"{check_id}: {outcome.not_read}")
        result.resources.extend(v for v in outcome.verdicts if account is None or v.account == account)
    if not control.automated:
        result.status = Verdict.MANUAL
    elif not checks:
        result.status = Verdict.NOT_IMPLEMENTED
    elif result.failed:
        result.status = Verdict.FAIL
    elif result.not_read:
        result.status = Verdict.NOT_READ
    return result


def evaluate(
    fw: Framework, scan: ScanResult, *, cloud: str | None = None, account: str | None = None
) -> ComplianceReport:
    """Every control of ``fw`` on ``scan``: overall (or for ``account`` only) and per account."""
    clouds = _clouds(fw, cloud)
    ev = _Evaluator(scan)
    known = sorted(
        {r.account for r in scan.inventory.records if r.cloud in clouds and r.account}
        | {f.account for f in scan.findings if f.cloud in clouds and f.account}
    )
    if account is not None:
        if account not in known:
            raise ComplianceError(
                f"no account {account!r} in scan {scan.scan_id}",
                hint=("accounts in it: " + ", ".join(known))
                if known
                else "the scan read no account of " + "/".join(clouds),
            )
        known = [account]
    overall = [_control(c, ev, clouds, account) for c in fw.controls]
    accounts = {a: [_control(c, ev, clouds, a) for c in fw.controls] for a in known}
    return ComplianceReport(
        framework=fw,
        scan_id=scan.scan_id,
        scanned_at=scan.started_at,
        clouds=clouds,
        controls=overall,
        accounts=accounts,
    )


class ScanHistory:
    """The stored scans, newest first, each read only when asked for (a scan holds its whole inventory)."""

    def __init__(self, store: Any, lookback: int = 20) -> None:
        self._store = store
        self._keys = list(reversed(store.keys("scan")[-lookback:]))
        self._loaded: list[ScanResult] = []

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __iter__(self) -> Iterator[ScanResult]:
        yield from self._loaded
        while self._keys:
            data = self._store.get("scan", self._keys.pop(0))
            if data is not None:
                scan = ScanResult.from_dict(data)
                self._loaded.append(scan)
                yield scan


def recent_scans(store: Any, lookback: int = 20) -> list[ScanResult]:
    """The newest scan that ran each cloud's checks (at most one per cloud), newest first: what the reports
    pick from, read while the store is open."""
    history = ScanHistory(store, lookback)
    out: list[ScanResult] = []
    wanted = set(CLOUDS)
    for scan in history:
        ran = {k.split(".", 1)[0] for k in set(scan.passed) | {f.check_id for f in scan.findings}}
        if not out or ran & wanted:
            out.append(scan)
        wanted -= ran
        if not wanted:
            break
    return out


def pick_scan(scans: list[ScanResult], fw: Framework, *, cloud: str | None = None) -> ScanResult:
    """The newest scan that ran a check of the framework's cloud(s) (a later scan of another cloud does not
    hide yesterday's AWS scan from ``cis-aws``); the newest scan when none did."""
    clouds = _clouds(fw, cloud)
    if not scans:
        raise ComplianceError(
            "no scan yet: run `escher scan` first", hint=f"then `escher compliance report {fw.id}`"
        )
    for scan in scans:
        ran = set(scan.passed) | {f.check_id for f in scan.findings}
        if any(k.split(".", 1)[0] in clouds for k in ran):
            return scan
    return scans[0]


def latest_scan_for(store: Any, fw: Framework, *, cloud: str | None = None, lookback: int = 20) -> ScanResult:
    return pick_scan(recent_scans(store, lookback), fw, cloud=cloud)
