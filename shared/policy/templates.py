""" "Extend me" templates: a manager fixes an operation and bounds what an executor may vary.

A template names one operation, fixes some parameters, bounds the others (choices, min/max, pattern), and
bounds the targets (how many, which regions, which tag values, which accounts) and the time (a daily window in the user's
time zone, e.g. 18:00-08:00). An executor runs it without approval inside the bounds; outside, the run is
refused and every reason is given.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from escher.policy._jsonfile import JsonDocument
from escher.policy.errors import TemplateError

__all__ = [
    "JsonFileTemplateStore",
    "MemoryTemplateStore",
    "Template",
    "TemplateStore",
    "VariableBound",
    "parse_template",
]

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class VariableBound(BaseModel):
    model_config = ConfigDict(extra="forbid")

    choices: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None

    def violation(self, name: str, value: Any) -> str | None:
        if self.choices is not None and value not in self.choices:
            return f"{name}={value!r} is not one of {self.choices}"
        if self.minimum is not None or self.maximum is not None:
            try:
                value = float(value)
            except (TypeError, ValueError):
                return f"{name}={value!r} is not a number"
            if self.minimum is not None and value < self.minimum:
                return f"{name}={value} is below the minimum {self.minimum:g}"
            if self.maximum is not None and value > self.maximum:
                return f"{name}={value} is above the maximum {self.maximum:g}"
        if self.pattern is not None and not re.fullmatch(self.pattern, str(value)):
            return f"{name}={value!r} does not match {self.pattern!r}"
        return None


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    operation: str
    description: str = ""
    fixed: dict[str, Any] = Field(default_factory=dict, description="parameters the executor cannot change")
    variables: dict[str, VariableBound] = Field(default_factory=dict, description="parameters they may set")
    max_targets: int = Field(default=10, ge=1)
    regions: list[str] = Field(default_factory=list, description="allowed regions; empty: any")
    target_tags: dict[str, list[str]] = Field(
        default_factory=dict, description="each target must carry tag KEY with one of these values"
    )
    window: str | None = Field(default=None, description="daily HH:MM-HH:MM in the user's time zone")
    accounts: list[str] = Field(
        default_factory=list,
        description="the accounts (AWS account ids, Azure subscriptions, GCP projects) a run may act in; "
        "empty: any",
    )
    created_by: str = ""
    created_at: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Template:
        from escher.ops.model import OPERATIONS

        op = OPERATIONS.find(self.operation)
        if op is None:
            raise ValueError(f"no operation named {self.operation!r}; see 'escher ops list'")
        fields = set(op.params.model_fields)
        unknown = (set(self.fixed) | set(self.variables)) - fields
        if unknown:
            raise ValueError(
                f"{self.operation} has no parameter(s) {sorted(unknown)}; it takes {sorted(fields)}"
            )
        both = set(self.fixed) & set(self.variables)
        if both:
            raise ValueError(f"parameter(s) {sorted(both)} are both fixed and variable")
        if self.window is not None and not _WINDOW.match(self.window):
            raise ValueError(f"window {self.window!r} is not HH:MM-HH:MM")
        return self

    # -- the bounds ---------------------------------------------------------------------------------------
    def params_for(self, variables: dict[str, Any]) -> dict[str, Any]:
        """The operation's parameters for a run: fixed ones plus the executor's, each inside its bound."""
        reasons = []
        for name, value in variables.items():
            bound = self.variables.get(name)
            if bound is None:
                fixed = " (it is fixed by the template)" if name in self.fixed else ""
                reasons.append(f"parameter {name} cannot be set{fixed}")
            elif (why := bound.violation(name, value)) is not None:
                reasons.append(why)
        if reasons:
            raise TemplateError(
                f"template {self.name} refuses: " + "; ".join(reasons),
                hint=f"see 'escher templates list' for what {self.name} allows",
            )
        return {**self.fixed, **variables}

    def violations(
        self, targets: list[tuple[str, str | None, dict[str, Any] | None]], now: datetime, timezone: str
    ) -> list[str]:
        """Why a planned run is outside the bounds (empty: inside). ``targets``: (id, region, state)."""
        reasons = []
        if len(targets) > self.max_targets:
            reasons.append(f"{len(targets)} targets, at most {self.max_targets} allowed")
        for resource_id, region, state in targets:
            if self.regions and region not in self.regions:
                reasons.append(f"{resource_id} is in region {region or '(default)'}, allowed: {self.regions}")
            for key, allowed in self.target_tags.items():
                value = (state or {}).get(f"tag:{key}")
                if value not in allowed:
                    reasons.append(f"{resource_id} has tag {key}={value!r}, allowed: {allowed}")
        if self.window is not None and not self.in_window(now, timezone):
            reasons.append(f"now is outside the window {self.window} ({timezone})")
        return reasons

    def account_violation(self, account: str | None) -> str | None:
        """Why a run in ``account`` (None: the caller's own, not named) is outside ``accounts``; None: inside."""
        if not self.accounts or account in self.accounts:
            return None
        if account is None:
            return f"the run names no account (--account ID), and template {self.name} allows only {self.accounts}"
        return f"account {account} is not one template {self.name} allows ({', '.join(self.accounts)})"

    def in_window(self, now: datetime, timezone: str) -> bool:
        assert self.window is not None
        match = _WINDOW.match(self.window)
        assert match is not None
        start = time(int(match[1]), int(match[2]))
        end = time(int(match[3]), int(match[4]))
        local = now.astimezone(ZoneInfo(timezone)).time()
        if start <= end:
            return start <= local < end
        return local >= start or local < end  # wraps midnight: 18:00-08:00


def parse_template(raw: dict[str, Any], *, created_by: str) -> Template:
    try:
        return Template.model_validate({**raw, "created_by": created_by, "created_at": datetime.now(UTC)})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'template'}: {e['msg']}" for e in exc.errors()
        )
        raise TemplateError(f"invalid template: {problems}", hint="fix the file and add it again") from None


class TemplateStore(Protocol):
    def put(self, template: Template) -> None: ...
    def get(self, name: str) -> Template | None: ...
    def all(self) -> list[Template]: ...


class MemoryTemplateStore:
    def __init__(self) -> None:
        self._items: dict[str, Template] = {}

    def put(self, template: Template) -> None:
        self._items[template.name] = template

    def get(self, name: str) -> Template | None:
        return self._items.get(name)

    def all(self) -> list[Template]:
        return sorted(self._items.values(), key=lambda t: t.name)


class JsonFileTemplateStore:
    def __init__(self, data_dir: Path) -> None:
        self._doc = JsonDocument(data_dir / "templates.json")

    def put(self, template: Template) -> None:
        def change(data: dict[str, Any]) -> None:
            data[template.name] = template.model_dump(mode="json")

        self._doc.update(change)

    def get(self, name: str) -> Template | None:
        raw = self._doc.read().get(name)
        return None if raw is None else Template.model_validate(raw)

    def all(self) -> list[Template]:
        return sorted((Template.model_validate(v) for v in self._doc.read().values()), key=lambda t: t.name)
