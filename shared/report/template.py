"""Report template settings (the vision's "Report Customization"), read from the ``[report]`` config section."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escher.errors import EscherError
from escher.scans.checks.base import Thresholds
from escher.scans.model import Severity

__all__ = ["SECTIONS", "Focus", "ReportFormat", "ReportTemplate", "TemplateError", "load_template"]

SECTIONS = ("alerts", "cost", "changes", "security", "optimization", "operational", "questions")


class TemplateError(EscherError):
    exit_code = 2


class Focus(StrEnum):
    balanced = "balanced"
    cost = "cost"
    security = "security"
    operational = "operational"


class ReportFormat(StrEnum):
    detailed = "detailed"  # every group, up to 10 resources each (~50 lines)
    compact = "compact"  # counts and the top groups (~20 lines)
    executive = "executive"  # headline figures and the top 3 issues (~15 lines)


class ReportThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cost_increase_usd: float = 100.0
    cost_increase_percent: float = 10.0
    idle_cpu_percent: float = 5.0
    idle_days: int = 7
    overprovisioned_cpu_percent: float = 30.0
    old_snapshot_days: int = 90
    budget_overrun_critical_usd: float = 1000.0

    def scan_thresholds(self) -> Thresholds:
        return Thresholds(
            idle_cpu_percent=self.idle_cpu_percent,
            idle_days=self.idle_days,
            overprovisioned_cpu_percent=self.overprovisioned_cpu_percent,
            old_snapshot_days=self.old_snapshot_days,
        )


class SeverityRules(BaseModel):
    """What is CRITICAL for this organization (beyond each check's own severity)."""

    model_config = ConfigDict(extra="forbid")

    any_public_bucket_critical: bool = True
    any_unencrypted_volume_critical: bool = False  # default: only production volumes are raised
    overrides: dict[str, Severity] = Field(default_factory=dict)  # check id -> severity

    def for_checks(self) -> dict[str, Severity]:
        out = dict(self.overrides)
        if self.any_public_bucket_critical:
            for key in (
                "aws.s3.bucket_public",
                "azure.storage.container_public",
                "gcp.storage.bucket_public",
            ):
                out.setdefault(key, Severity.CRITICAL)
        if self.any_unencrypted_volume_critical:
            out.setdefault("aws.ec2.volume_encrypted", Severity.CRITICAL)
        return out


class ReportTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sections: list[str] = Field(default_factory=lambda: list(SECTIONS))
    focus: Focus = Focus.balanced
    format: ReportFormat = ReportFormat.detailed
    thresholds: ReportThresholds = Field(default_factory=ReportThresholds)
    severity: SeverityRules = Field(default_factory=SeverityRules)
    budget_monthly: float | None = None
    cost_tag: str = "env"

    def ordered_sections(self) -> list[str]:
        """Critical alerts always come first; the focus area comes next."""
        wanted = [s for s in SECTIONS if s in self.sections or s == "alerts"]
        lead = {"cost": ["cost", "optimization"], "security": ["security"], "operational": ["operational"]}
        first = [s for s in lead.get(self.focus.value, []) if s in wanted]
        rest = [s for s in wanted if s not in first and s != "alerts"]
        return ["alerts", *first, *rest]


def load_template(extensions: dict[str, Any] | None) -> ReportTemplate:
    raw = (extensions or {}).get("report", {})
    try:
        template = ReportTemplate.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TemplateError(
            f"[report] {where}: {first['msg']}", hint="fix the [report] section of config.toml"
        ) from exc
    unknown = [s for s in template.sections if s not in SECTIONS]
    if unknown:
        raise TemplateError(
            f"unknown report sections: {', '.join(unknown)}", hint=f"use some of: {', '.join(SECTIONS)}"
        )
    return template
