"""Run checks over an inventory: pure, no cloud calls, linear in records x applicable checks."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from escher.errors import EscherError
from escher.scans.checks.base import CHECKS, Check, CheckContext, Fail, Thresholds, _NotApplicable
from escher.scans.model import Finding, Inventory, Record, Severity, Status

__all__ = ["CheckRun", "UnknownCheckError", "run_checks", "select_checks"]


class UnknownCheckError(EscherError):
    """A --checks pattern that matches no registered check."""

    exit_code = 2  # bad usage, like any other argument that names nothing


def select_checks(patterns: Iterable[str] | None = None, clouds: Iterable[str] | None = None) -> list[Check]:
    """Checks whose id matches any pattern (``aws.s3.*``, ``aws.ec2.sg_open_ssh``); all when none given."""
    keys = CHECKS.keys()
    if clouds:
        wanted = set(clouds)
        keys = [k for k in keys if k.split(".", 1)[0] in wanted]
    pats = [p.strip() for p in (patterns or []) if p.strip()]
    if pats:
        chosen = []
        for pat in pats:
            hit = [k for k in keys if fnmatch.fnmatchcase(k, pat) or k == pat or k.startswith(pat + ".")]
            if not hit:
                raise UnknownCheckError(
                    f"no check matches {pat!r}", hint="list them with `escher scan --list-checks`"
                )
            chosen.extend(hit)
        keys = sorted(set(chosen))
    return [CHECKS.get(k) for k in keys]


@dataclass(slots=True)
class CheckRun:
    findings: list[Finding] = field(default_factory=list)  # FAIL always; PASS only when asked for
    passed: dict[str, int] = field(default_factory=dict)  # check id -> records that passed
    evaluated: dict[str, int] = field(default_factory=dict)


def run_checks(
    inventory: Inventory,
    checks: list[Check] | None = None,
    *,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
    include_passed: bool = False,
    severity_overrides: dict[str, Severity] | None = None,
) -> CheckRun:
    checks = select_checks() if checks is None else checks
    index = inventory.by_type()
    ctx = CheckContext(now=now or datetime.now(UTC), thresholds=thresholds or Thresholds(), index=index)
    overrides = severity_overrides or {}
    run = CheckRun()
    for chk in checks:
        passed = evaluated = 0
        compliance = chk.compliance
        for rec in index.get(chk.resource_type, ()):
            outcome = chk.fn(rec, ctx)
            if isinstance(outcome, _NotApplicable):
                continue
            evaluated += 1
            if outcome is None:
                passed += 1
                if not include_passed:
                    continue
            fail = outcome if isinstance(outcome, Fail) else None
            severity = overrides.get(chk.id) or (fail.severity if fail and fail.severity else chk.severity)
            run.findings.append(
                Finding(
                    check_id=chk.id,
                    resource_id=rec.id,
                    resource_type=rec.type,
                    status=Status.FAIL if fail else Status.PASS,
                    severity=severity,
                    cloud=rec.cloud,
                    region=rec.region,
                    account=rec.account,
                    title=chk.title,
                    message=fail.message if fail else "ok",
                    category=chk.category,
                    fix_operation=chk.fix_operation if fail else None,
                    fix_params=_params(chk, rec, fail),
                    fix_target=chk.fix_target(rec) if fail and chk.fix_operation else "",
                    monthly_saving=fail.monthly_saving if fail else 0.0,
                    environment=rec.environment,
                    compliance=compliance,
                    remediation=chk.remediation,
                )
            )
        run.passed[chk.id] = passed
        run.evaluated[chk.id] = evaluated
    return run


def _params(chk: Check, rec: Record, fail: Fail | None) -> dict[str, Any]:
    if fail is None or not chk.fix_operation:
        return {}
    return dict(fail.fix_params) if fail.fix_params is not None else chk.fix_params(rec)
