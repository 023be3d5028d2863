"""The records a scan works on: normalized inventory, collection failures, findings.

Collectors are the only code that touches a cloud; they turn API answers into :class:`Record`s. Checks, waste
and the report work on records alone, so they are fast and testable without any cloud.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "CollectionError",
    "Finding",
    "Inventory",
    "Record",
    "ScanResult",
    "Severity",
    "Status",
    "new_scan_id",
]

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"  # ULID's alphabet, lower case: no i, l, o, u


def new_scan_id(at: datetime) -> str:
    """``20261207T084032123Z-<16 chars>``: sorts by time to the millisecond (``latest`` relies on it), then
    80 random bits as in a ULID, so two scans started in the same millisecond are both kept."""
    rand = int.from_bytes(os.urandom(10), "big")
    suffix = "".join(_CROCKFORD[(rand >> (5 * i)) & 31] for i in reversed(range(16)))
    return at.strftime("%Y%m%dT%H%M%S") + f"{at.microsecond // 1000:03d}Z-{suffix}"


class Severity(StrEnum):
    """Same words as ``escher.events.model.Severity`` plus LOW, which scans need for hygiene findings."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFO = "INFO"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1, Severity.INFO: 0}


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"


@dataclass(slots=True)
class Record:
    """One cloud resource, normalized. ``type`` is ``<cloud>.<service>.<kind>`` (``aws.ec2.volume``)."""

    cloud: str
    type: str
    id: str
    region: str
    account: str
    name: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def service(self) -> str:
        return self.type.split(".")[1]

    @property
    def environment(self) -> str:
        for key in ("env", "environment", "Environment", "Env", "stage"):
            if key in self.tags:
                return self.tags[key]
        return ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class CollectionError:
    """A part of the estate that could not be read. Reported as such, never as "0 resources"."""

    cloud: str
    service: str
    region: str
    message: str
    code: str = ""
    hint: str = ""  # what to do about it


# service and region of a CollectionError for a cloud that could not be read at all
WHOLE_CLOUD = ("all services", "all regions")


@dataclass(slots=True)
class Inventory:
    records: list[Record] = field(default_factory=list)
    errors: list[CollectionError] = field(default_factory=list)
    # which (cloud, service, region) were read completely: an empty service is only "0" when it is here
    covered: list[tuple[str, str, str]] = field(default_factory=list)
    collected_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def extend(self, other: Inventory) -> None:
        self.records.extend(other.records)
        self.errors.extend(other.errors)
        self.covered.extend(other.covered)

    def by_type(self) -> dict[str, list[Record]]:
        index: dict[str, list[Record]] = {}
        for rec in self.records:
            index.setdefault(rec.type, []).append(rec)
        return index

    @property
    def partial(self) -> bool:
        return bool(self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "collected_at": self.collected_at.isoformat(),
            "records": [r.to_dict() for r in self.records],
            "errors": [asdict(e) for e in self.errors],
            "covered": [list(c) for c in self.covered],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inventory:
        return cls(
            records=[Record.from_dict(r) for r in data.get("records", [])],
            errors=[CollectionError(**e) for e in data.get("errors", [])],
            covered=[(c[0], c[1], c[2]) for c in data.get("covered", [])],
            collected_at=datetime.fromisoformat(data["collected_at"]),
        )


def finding_id(check_id: str, resource_id: str) -> str:
    """Stable across scans, so ``escher fix ID`` and "since yesterday" compare like with like."""
    digest = hashlib.sha256(f"{check_id}|{resource_id}".encode()).hexdigest()[:10]
    return f"F-{digest}"


@dataclass(slots=True)
class Finding:
    check_id: str
    resource_id: str
    resource_type: str
    status: Status
    severity: Severity
    cloud: str
    region: str
    account: str
    title: str
    message: str
    category: str = "security"
    fix_operation: str | None = None
    fix_params: dict[str, Any] = field(default_factory=dict)
    fix_target: str = ""  # the resource id the operation takes (a region for account-level settings)
    monthly_saving: float = 0.0
    environment: str = ""
    compliance: dict[str, list[str]] = field(default_factory=dict)
    remediation: str = ""

    @property
    def id(self) -> str:
        return finding_id(self.check_id, self.resource_id)

    def to_dict(self) -> dict[str, Any]:
        # by hand, not dataclasses.asdict: asdict deep-copies and was most of the report's build time at 100k
        data = {name: getattr(self, name) for name in _FINDING_FIELDS}
        data["id"] = self.id
        data["status"] = self.status.value
        data["severity"] = self.severity.value
        data["fix_params"] = dict(self.fix_params)
        data["compliance"] = {k: list(v) for k, v in self.compliance.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        data = {k: v for k, v in data.items() if k != "id"}
        data["status"] = Status(data["status"])
        data["severity"] = Severity(data["severity"])
        return cls(**data)


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))


@dataclass(slots=True)
class ScanResult:
    scan_id: str
    started_at: datetime
    finished_at: datetime
    inventory: Inventory
    findings: list[Finding]
    passed: dict[str, int] = field(default_factory=dict)  # check id -> resources that passed

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.FAIL]

    def to_dict(self, *, with_records: bool = True) -> dict[str, Any]:
        inv = self.inventory.to_dict()
        if not with_records:
            inv["records"] = []
        return {
            "scan_id": self.scan_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "inventory": inv,
            "findings": [f.to_dict() for f in self.findings],
            "passed": self.passed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanResult:
        return cls(
            scan_id=data["scan_id"],
            started_at=datetime.fromisoformat(data["started_at"]),
            finished_at=datetime.fromisoformat(data["finished_at"]),
            inventory=Inventory.from_dict(data["inventory"]),
            findings=[Finding.from_dict(f) for f in data["findings"]],
            passed=dict(data.get("passed", {})),
        )
