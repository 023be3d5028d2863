"""The declarative severity rule: what to match, which severity, and nothing executable.

A rule matches when every condition it names holds (AND); lists inside a condition are alternatives (OR).
``where`` clauses compare one field with one literal: ``"metadata.percent_used >= 200"``,
``'metadata.state == "alarm"'``, ``"context.cost_impact > 1000"``. They are parsed once at load by a regular
expression, never evaluated as code.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from escher.events.model import (
    CloudProvider,
    DataClassification,
    Environment,
    EventType,
    Severity,
    UnifiedEvent,
)

__all__ = ["CompiledRule", "Condition", "Rule", "compile_rule"]

_CLAUSE = re.compile(
    r"^\s*(?P<path>(?:context|metadata|resource|tags)(?:\.[A-Za-z0-9_\-]+)+|region|account_id)\s*"
    r"(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<value>-?\d+(?:\.\d+)?|\"[^\"]*\"|'[^']*'|true|false)\s*$"
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_CONTEXT_FIELDS = {"environment", "data_classification", "cost_impact", "affected_users"}
_RESOURCE_FIELDS = {"type", "id", "name"}


@dataclass(frozen=True, slots=True)
class Condition:
    """``path op literal`` with a typed literal; a missing field never matches."""

    text: str
    path: tuple[str, ...]
    op: str
    value: float | str | bool

    @classmethod
    def parse(cls, text: str) -> Condition:
        m = _CLAUSE.match(text)
        if not m:
            raise ValueError(
                f"cannot read where clause {text!r}: write '<field> <op> <value>' with field context.*, "
                "metadata.*, resource.type|id|name, tags.<key>, region or account_id; op one of > >= < <= == !=; "
                'value a number, "text", true or false'
            )
        path = tuple(m["path"].split("."))
        raw, op = m["value"], m["op"]
        value: float | str | bool
        if raw in ("true", "false"):
            value = raw == "true"
        elif raw[0] in "\"'":
            value = raw[1:-1]
        else:
            value = float(raw)
        if not isinstance(value, float) and op not in ("==", "!="):
            raise ValueError(f"where clause {text!r}: {op} needs a number")
        if path[0] == "context" and (len(path) != 2 or path[1] not in _CONTEXT_FIELDS):
            raise ValueError(
                f"where clause {text!r}: context fields are {', '.join(sorted(_CONTEXT_FIELDS))}"
            )
        if path[0] == "resource" and (len(path) != 2 or path[1] not in _RESOURCE_FIELDS):
            raise ValueError(f"where clause {text!r}: resource fields are type, id and name")
        if path[0] == "tags" and len(path) != 2:
            raise ValueError(f"where clause {text!r}: write tags.<key>")
        return cls(text.strip(), path, op, value)

    def lookup(self, event: UnifiedEvent) -> Any:
        head, rest = self.path[0], self.path[1:]
        if head in ("region", "account_id"):
            return getattr(event, head)
        if head == "context":
            return getattr(event.context, rest[0])
        if head == "resource":
            return getattr(event.resource, rest[0])
        if head == "tags":
            lowered = {k.lower(): v for k, v in event.resource.tags.items()}
            return lowered.get(rest[0].lower())
        current: Any = event.resource.metadata
        for key in rest:
            if not isinstance(current, dict) or key not in current:
                return None
            current = current[key]
        return current

    def test(self, actual: Any) -> bool:
        """Whether the condition holds for an observed value (None, a missing field, never holds)."""
        if actual is None:
            return False
        if isinstance(self.value, bool):
            return isinstance(actual, bool) and _OPS[self.op](actual, self.value)
        if isinstance(self.value, float):
            numeric = isinstance(actual, int | float) and not isinstance(actual, bool)
            return numeric and _OPS[self.op](float(actual), self.value)
        # text compares case-insensitively: "ALARM" and "alarm" are one state
        return bool(_OPS[self.op](str(actual).lower(), self.value.lower()))

    def holds(self, event: UnifiedEvent) -> tuple[bool, str]:
        """Whether it holds, and the observed value for the explanation."""
        actual = self.lookup(event)
        if actual is None:
            return False, f"{'.'.join(self.path)} is missing"
        return self.test(actual), f"{'.'.join(self.path)} = {actual!r}"


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Rule(BaseModel):
    """One ``[[severity.rules]]`` table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    severity: Severity
    description: str = ""
    event_type: list[EventType] = Field(default_factory=list)
    cloud: list[CloudProvider] = Field(default_factory=list)
    environment: list[Environment] = Field(default_factory=list)
    data_classification: list[DataClassification] = Field(default_factory=list)
    resource_type: list[str] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict)
    where: list[Condition] = Field(default_factory=list)

    @field_validator("severity", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("data_classification", mode="before")
    @classmethod
    def _classification(cls, value: Any) -> Any:
        # "pii" and "PII" both mean PII; the others are lower case
        return [
            v.upper() if isinstance(v, str) and v.lower() == "pii" else v.lower() if isinstance(v, str) else v
            for v in _as_list(value)
        ]

    @field_validator("event_type", "cloud", "environment", "resource_type", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _as_list(v) for k, v in value.items()}
        return value

    @field_validator("where", mode="before")
    @classmethod
    def _conditions(cls, value: Any) -> Any:
        items = _as_list(value)
        if not isinstance(items, list):
            raise ValueError("where must be a list of strings")
        return [Condition.parse(v) if isinstance(v, str) else v for v in items]

    @model_validator(mode="after")
    def _not_empty(self) -> Rule:
        if not (
            self.event_type
            or self.cloud
            or self.environment
            or self.data_classification
            or self.resource_type
            or self.tags
            or self.where
        ):
            raise ValueError(
                "a rule without conditions would match every event; add at least one of event_type, cloud, "
                "environment, data_classification, resource_type, tags, where"
            )
        return self

    def match(self, event: UnifiedEvent) -> list[str] | None:
        """The reasons it matches (one per condition), or None."""
        compiled = compile_rule(self)
        return list(compiled.reasons(event)) if compiled.matches(event) else None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule's conditions as frozensets, built once per rule: matching is on the hot path of every event.

    :meth:`matches` builds no text; :meth:`reasons` writes the explanation and is called only when someone
    reads it (``SeverityDecision.reasons``), so classifying an event costs set lookups and comparisons.
    """

    rule: Rule
    event_types: frozenset[EventType]
    clouds: frozenset[CloudProvider]
    environments: frozenset[Environment]
    classifications: frozenset[DataClassification]
    resource_types: frozenset[str]
    tags: tuple[tuple[str, frozenset[str]], ...]
    where: tuple[Condition, ...]

    def matches(self, event: UnifiedEvent) -> bool:
        if self.event_types and event.event_type not in self.event_types:
            return False
        if self.clouds and event.cloud_provider not in self.clouds:
            return False
        if self.environments or self.classifications:
            ctx = event.context
            if self.environments and ctx.environment not in self.environments:
                return False
            if self.classifications and ctx.data_classification not in self.classifications:
                return False
        if self.resource_types and event.resource.type.lower() not in self.resource_types:
            return False
        if self.tags:
            lowered = {k.lower(): v.lower() for k, v in event.resource.tags.items()}
            for key, values in self.tags:
                got = lowered.get(key)
                if got is None or (values and got not in values):
                    return False
        return all(cond.test(cond.lookup(event)) for cond in self.where)

    def reasons(self, event: UnifiedEvent) -> tuple[str, ...]:
        """Why a matching rule matched, one reason per condition (call only after :meth:`matches`)."""
        reasons: list[str] = []
        if self.event_types:
            reasons.append(f"event_type is {event.event_type}")
        if self.clouds:
            reasons.append(f"cloud is {event.cloud_provider}")
        if self.environments:
            reasons.append(f"environment is {event.context.environment}")
        if self.classifications:
            reasons.append(f"data_classification is {event.context.data_classification}")
        if self.resource_types:
            reasons.append(f"resource.type is {event.resource.type}")
        if self.tags:
            lowered = {k.lower(): v.lower() for k, v in event.resource.tags.items()}
            reasons += [f"tag {key}={lowered.get(key)}" for key, _values in self.tags]
        for cond in self.where:
            reasons.append(f"{cond.text} ({cond.holds(event)[1]})")
        return tuple(reasons)


_COMPILED: dict[int, CompiledRule] = {}


def compile_rule(rule: Rule) -> CompiledRule:
    """The rule's matcher, built once: keyed by identity (rules are frozen), and the compiled value keeps the
    rule alive, so an id is never reused while its entry exists."""
    hit = _COMPILED.get(id(rule))
    if hit is not None and hit.rule is rule:
        return hit
    compiled = CompiledRule(
        rule,
        frozenset(rule.event_type),
        frozenset(rule.cloud),
        frozenset(rule.environment),
        frozenset(rule.data_classification),
        frozenset(t.lower() for t in rule.resource_type),
        tuple((k.lower(), frozenset(v.lower() for v in vs)) for k, vs in rule.tags.items()),
        tuple(rule.where),
    )
    _COMPILED[id(rule)] = compiled
    return compiled
