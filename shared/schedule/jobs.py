"""Scheduled jobs: a scan, a report, the daily job, or a catalogue operation with its filters."""

from __future__ import annotations

import hashlib
import re
import shlex
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from escher.clouds import CLOUDS
from escher.errors import EscherError
from escher.schedule.cron import check_timezone, parse

__all__ = ["Job", "JobError", "Schedule", "default_daily", "parse_job"]


class JobError(EscherError):
    exit_code = 2


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["daily", "scan", "report", "operation"]
    clouds: list[str] = Field(default_factory=lambda: ["aws"])
    operation: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    targets: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    # a manager's template that bounds the run (targets' tags, count, regions, window); without one, only a
    # pre-approved remediation switch lets the scheduler change anything
    template: str | None = None

    def describe(self) -> str:
        if self.kind != "operation":
            return f"{self.kind} ({', '.join(self.clouds)})"
        sel = [f"tag {k}={v}" for k, v in self.tags.items()] + self.targets
        bound = f" within template {self.template}" if self.template else ""
        return f"{self.operation} on {', '.join(sel) or 'nothing'}{bound}"


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    cron: str
    timezone: str = "UTC"
    job: Job
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    created_by: str = ""
    last_run: datetime | None = None
    last_outcome: str = ""

    # a schedule that cannot compute its next run is refused when it is made, not found broken at 02:00
    @field_validator("cron")
    @classmethod
    def _cron_fires(cls, value: str) -> str:
        parse(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_timezone(value)

    def next_run(self, after: datetime | None = None) -> datetime:
        base = after or self.last_run or self.created_at
        return parse(self.cron).next_after(base, self.timezone)


# "stop instances tagged env=dev" and friends: verb + noun -> operation per cloud
_PHRASES: dict[tuple[str, str], dict[str, str]] = {
    ("stop", "instances"): {"aws": "aws.ec2.stop_instances", "gcp": "gcp.compute.stop_instance"},
    ("start", "instances"): {"aws": "aws.ec2.start_instances", "gcp": "gcp.compute.start_instance"},
    ("stop", "vms"): {"azure": "azure.compute.deallocate_vm", "gcp": "gcp.compute.stop_instance"},
    ("start", "vms"): {"azure": "azure.compute.start_vm", "gcp": "gcp.compute.start_instance"},
    ("stop", "databases"): {"aws": "aws.rds.stop_db_instance", "gcp": "gcp.sql.stop_instance"},
    ("start", "databases"): {"aws": "aws.rds.start_db_instance", "gcp": "gcp.sql.start_instance"},
}
_PHRASE = re.compile(
    r"^(?P<verb>stop|start)\s+(?:(?P<cloud>aws|azure|gcp)\s+)?(?P<noun>instances|vms|databases)"
    r"(?:\s+tagged\s+(?P<tags>[\w.:/-]+=[\w.:/-]*(?:\s*,\s*[\w.:/-]+=[\w.:/-]*)*))?"
    r"(?:\s+in\s+(?P<region>[\w-]+))?$",
    re.IGNORECASE,
)


def _kv(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise JobError(f"{item!r} is not key=value", hint="write tag filters as env=dev")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def parse_job(text: str) -> Job:
    """``scan [aws azure]``, ``report``, ``daily``, ``OPERATION tag:k=v target:id region:r key=value``,
    or a phrase such as ``stop instances tagged env=dev``."""
    words = shlex.split(text)
    if not words:
        raise JobError("empty job", hint='e.g. "scan", "report" or "stop instances tagged env=dev"')
    head = words[0].lower()
    if head in ("scan", "report", "daily"):
        clouds = [w.lstrip("-").lower() for w in words[1:] if w.lstrip("-").lower() in CLOUDS]
        return Job(kind=head, clouds=clouds or ["aws"])  # type: ignore[arg-type]
    m = _PHRASE.match(" ".join(words))
    if m:
        ops = _PHRASES[(m["verb"].lower(), m["noun"].lower())]
        cloud = (m["cloud"] or next(iter(ops))).lower()
        if cloud not in ops:
            raise JobError(
                f"no operation to {m['verb']} {m['noun']} on {cloud}", hint=f"clouds: {', '.join(ops)}"
            )
        tags = _kv([t for t in (m["tags"] or "").replace(" ", "").split(",") if t])
        if not tags:
            raise JobError(
                "a scheduled operation needs a filter",
                hint='add "tagged env=dev" so it cannot hit everything',
            )
        return Job(
            kind="operation",
            clouds=[cloud],
            operation=ops[cloud],
            tags=tags,
            regions=[m["region"]] if m["region"] else [],
        )
    from escher.ops.model import OPERATIONS

    if head in OPERATIONS:
        tags, targets, regions, params = {}, [], [], {}
        for w in words[1:]:
            prefix, _, rest = w.partition(":")
            if prefix == "tag" and rest:
                tags.update(_kv([rest]))
            elif prefix == "target" and rest:
                targets.append(rest)
            elif prefix == "region" and rest:
                regions.append(rest)
            else:
                params.update(_kv([w]))
        if not (tags or targets):
            raise JobError("a scheduled operation needs targets", hint="add tag:env=dev or target:ID")
        return Job(
            kind="operation",
            clouds=[head.split(".")[0]],
            operation=head,
            tags=tags,
            targets=targets,
            regions=regions,
            params=params,
        )
    raise JobError(
        f"cannot read the job {text!r}",
        hint='use "scan", "report", "daily", an operation id (escher ops list) or "stop instances tagged env=dev"',
    )


def schedule_id(cron: str, job: Job) -> str:
    return "s-" + hashlib.sha256(f"{cron}|{job.model_dump_json()}".encode()).hexdigest()[:8]


def default_daily(daily_scan_at: str, timezone: str, clouds: list[str]) -> Schedule:
    """The built-in daily job (scan + cost sync + report), at ``general.daily_scan_at`` (02:00) local time."""
    hour, minute = (int(x) for x in daily_scan_at.split(":"))
    return Schedule(
        id="daily",
        cron=f"{minute} {hour} * * *",
        timezone=timezone,
        job=Job(kind="daily", clouds=clouds),
        created_at=datetime(2020, 1, 1, tzinfo=UTC),
        created_by="escher",
    )
