"""What a check is: typed metadata plus a pure function over one normalized record.

After Prowler's metadata (severity, risk, remediation, compliance ids) and Cloud Custodian's registry: each check
is registered under ``<cloud>.<service>.<name>`` in :data:`CHECKS`; the modules holding them are imported on the
first lookup only. A check returns ``None`` (pass), :class:`Fail` (fail, with a message and an optional saving)
or :data:`NA` (the record is out of the check's scope, e.g. a stopped instance for an idle check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from escher.clouds.provider import entry_modules
from escher.registry import Registry
from escher.scans.model import Record, Severity

__all__ = ["CHECKS", "NA", "Check", "CheckContext", "Fail", "Thresholds", "check"]


@dataclass(frozen=True, slots=True)
class Fail:
    message: str
    monthly_saving: float = 0.0
    severity: Severity | None = None  # a check may raise or lower its own severity for one record
    fix_params: dict[str, Any] | None = None  # operation parameters worked out by the check (a smaller size)


class _NotApplicable:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NA"


NA: Final = _NotApplicable()

Outcome = Fail | _NotApplicable | None


@dataclass(frozen=True, slots=True)
class Thresholds:
    idle_cpu_percent: float = 5.0
    idle_days: int = 7
    overprovisioned_cpu_percent: float = 30.0
    overprovisioned_days: int = 30
    old_snapshot_days: int = 90
    backup_max_age_days: int = 2
    access_key_unused_days: int = 90
    access_key_max_age_days: int = 90
    stopped_instance_days: int = 30
    min_password_length: int = 14
    min_backup_retention_days: int = 7


@dataclass(slots=True)
class CheckContext:
    """What a check may know besides its record: the time, the thresholds and the rest of the estate."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    thresholds: Thresholds = field(default_factory=Thresholds)
    index: dict[str, list[Record]] = field(default_factory=dict)
    _ids: dict[str, frozenset[str]] = field(default_factory=dict)

    def ids(self, record_type: str) -> frozenset[str]:
        """Ids of every record of a type (cached): "does the source volume still exist?"."""
        if record_type not in self._ids:
            self._ids[record_type] = frozenset(r.id for r in self.index.get(record_type, ()))
        return self._ids[record_type]

    def age_days(self, value: str | None) -> float | None:
        if not value:
            return None
        stamp = datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return (self.now - stamp).total_seconds() / 86400


CheckFn = Callable[[Record, CheckContext], Outcome]
ParamsFn = Callable[[Record], dict[str, Any]]


def default_params(rec: Record) -> dict[str, Any]:
    return {}


def default_target(rec: Record) -> str:
    return rec.id


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    title: str
    severity: Severity
    resource_type: str
    category: str  # security | cost | operational
    risk: str
    remediation: str
    fn: CheckFn
    cis: tuple[str, ...] = ()
    soc2: tuple[str, ...] = ()
    hipaa: tuple[str, ...] = ()
    fix_operation: str | None = None
    fix_params: ParamsFn = default_params
    fix_target: Callable[[Record], str] = default_target
    # attributes of ``resource_type`` it reads; "<type>:<attr>" for another type's
    reads: tuple[str, ...] = ()

    @property
    def cloud(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def needs(self) -> frozenset[tuple[str, str]]:
        """(record type, attribute) pairs the check reads: it can fire only when a collector produces each."""
        out = set()
        for item in self.reads:
            type_, sep, attr = item.rpartition(":")
            out.add((type_, attr) if sep else (self.resource_type, item))
        return frozenset(out)

    @property
    def compliance(self) -> dict[str, list[str]]:
        out = {"CIS": list(self.cis), "SOC2": list(self.soc2), "HIPAA": list(self.hipaa)}
        return {k: v for k, v in out.items() if v}

    def metadata(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity.value,
            "resource_type": self.resource_type,
            "category": self.category,
            "risk": self.risk,
            "remediation": self.remediation,
            "compliance": self.compliance,
            "fix_operation": self.fix_operation,
        }


CHECKS: Registry[Check] = Registry(
    "check",
    # each cloud's entry modules, as its provider lists them (escher.clouds.provider)
    modules=entry_modules("checks"),
)


def check(
    key: str,
    *,
    resource: str,
    title: str,
    severity: Severity,
    risk: str,
    remediation: str,
    category: str = "security",
    cis: tuple[str, ...] = (),
    soc2: tuple[str, ...] = (),
    hipaa: tuple[str, ...] = (),
    fix: str | None = None,
    fix_params: ParamsFn = default_params,
    fix_target: Callable[[Record], str] = default_target,
    reads: tuple[str, ...] = (),
) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as the check ``key``; returns ``fn`` unchanged so it stays callable in tests.

    ``reads`` names the record attributes ``fn`` looks at (``"id"`` and ``"tags"`` are every record's; another
    type's as ``"<type>:<attr>"``): the coverage test and ``--list-checks`` match them against what the
    collectors declare they produce, so a check nobody feeds is caught, not silently quiet."""

    def decorate(fn: CheckFn) -> CheckFn:
        CHECKS.add(
            key,
            Check(
                id=key,
                title=title,
                severity=severity,
                resource_type=resource,
                category=category,
                risk=risk,
                remediation=remediation,
                fn=fn,
                cis=cis,
                soc2=soc2,
                hipaa=hipaa,
                fix_operation=fix,
                fix_params=fix_params,
                fix_target=fix_target,
                reads=tuple(reads),
            ),
        )
        return fn

    return decorate
