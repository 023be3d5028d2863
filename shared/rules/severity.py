"""Severity decisions: the user's rules first (file order), then Escher's defaults, then the provider's own
severity. The first rule that matches decides; every decision names its rule and why it matched.

Config (TOML; the loader keeps unknown sections in ``Settings.extensions``)::

    [severity]
    use_defaults = true            # optional; false keeps only your rules and the provider fallback

    [[severity.rules]]
    name = "any public bucket"
    event_type = "storage_bucket_public"
    severity = "CRITICAL"

    [[severity.rules]]
    name = "budget overrun over $1000"
    event_type = "budget_exceeded"
    where = ["context.cost_impact > 1000"]
    severity = "CRITICAL"
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from escher.events.model import EventType, Severity, UnifiedEvent
from escher.rules.errors import RuleError
from escher.rules.model import CompiledRule, Rule, compile_rule

__all__ = ["DEFAULT_RULES", "RuleSet", "SeverityDecision", "load_rules", "rules_from_settings"]

Origin = Literal["user", "default", "provider"]


class SeverityDecision:
    """The severity, the rule that decided it and where the rule came from; ``reasons`` says why.

    The reasons are text, written on first read: a worker classifying thousands of events reads them only for
    the events it stores or notifies, so :meth:`RuleSet.decide` builds no strings (issue 3's throughput).
    """

    __slots__ = ("_explain", "_reasons", "origin", "rule", "severity")

    def __init__(
        self,
        severity: Severity,
        rule: str,
        origin: Origin,
        reasons: tuple[str, ...] | Callable[[], tuple[str, ...]] = (),
    ) -> None:
        self.severity = severity
        self.rule = rule
        self.origin = origin
        self._reasons: tuple[str, ...] | None = None
        self._explain: Callable[[], tuple[str, ...]] | None = None
        if callable(reasons):
            self._explain = reasons
        else:
            self._reasons = tuple(reasons)

    @property
    def reasons(self) -> tuple[str, ...]:
        if self._reasons is None:
            assert self._explain is not None  # exactly one of the two is set by __init__
            self._reasons = self._explain()
            self._explain = None
        return self._reasons

    @property
    def explanation(self) -> str:
        because = "; ".join(self.reasons) if self.reasons else "no condition"
        return f"{self.severity} by {self.origin} rule '{self.rule}': {because}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SeverityDecision):
            return NotImplemented
        return (self.severity, self.rule, self.origin, self.reasons) == (
            other.severity,
            other.rule,
            other.origin,
            other.reasons,
        )

    def __hash__(self) -> int:
        return hash((self.severity, self.rule, self.origin, self.reasons))

    def __repr__(self) -> str:
        return (
            f"SeverityDecision(severity={self.severity!r}, rule={self.rule!r}, origin={self.origin!r}, "
            f"reasons={self.reasons!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "rule": self.rule,
            "origin": self.origin,
            "reasons": list(self.reasons),
            "explanation": self.explanation,
        }


# The vision's defaults ("Target Events by Severity"), written in the same format users write.
_DEFAULTS: list[dict[str, Any]] = [
    {
        "name": "public bucket holding PII",
        "severity": "CRITICAL",
        "event_type": "storage_bucket_public",
        "data_classification": "PII",
    },
    {"name": "database down", "severity": "CRITICAL", "event_type": "db_down"},
    {
        "name": "budget exceeded 200%",
        "severity": "CRITICAL",
        "event_type": "budget_exceeded",
        "where": ["metadata.percent_used >= 200"],
    },
    {
        "name": "capacity warning",
        "severity": "MEDIUM",
        "event_type": "metric_alarm",
        "where": ['metadata.state == "alarm"', 'metadata.signal == "capacity"'],
    },
    {
        "name": "performance degradation",
        "severity": "HIGH",
        "event_type": "metric_alarm",
        "where": ['metadata.state == "alarm"'],
    },
    {"name": "cost spike", "severity": "HIGH", "event_type": ["cost_anomaly", "budget_exceeded"]},
    {
        "name": "compliance violation",
        "severity": "HIGH",
        "event_type": [
            "compliance_finding",
            "storage_bucket_public",
            "security_group_open_to_world",
            "volume_unencrypted",
            "storage_public_access_block_removed",
        ],
    },
    {"name": "budget threshold approaching", "severity": "MEDIUM", "event_type": "budget_warning"},
]
DEFAULT_RULES: tuple[Rule, ...] = tuple(Rule.model_validate(r) for r in _DEFAULTS)


class RuleSet:
    """Ordered rules; :meth:`decide` is pure and deterministic."""

    def __init__(self, rules: Sequence[Rule] = (), *, use_defaults: bool = True) -> None:
        self.user_rules = tuple(rules)
        self.use_defaults = use_defaults
        self._ordered: tuple[tuple[Rule, Origin], ...] = tuple(
            [(r, "user") for r in self.user_rules]
            + ([(r, "default") for r in DEFAULT_RULES] if use_defaults else [])
        )

        # Rules that name event types are only tried on those types: one dict lookup instead of every rule;
        # each rule's matcher is compiled here, once, not looked up per event.
        self._by_type: dict[EventType, tuple[tuple[CompiledRule, Origin], ...]] = {
            t: tuple((compile_rule(r), o) for r, o in self._ordered if not r.event_type or t in r.event_type)
            for t in EventType
        }

    def decide(self, event: UnifiedEvent) -> SeverityDecision:
        for compiled, origin in self._by_type[event.event_type]:
            if compiled.matches(event):
                rule = compiled.rule
                return SeverityDecision(
                    rule.severity, rule.name, origin, functools.partial(compiled.reasons, event)
                )
        return SeverityDecision(
            event.severity, "provider severity", "provider", functools.partial(_provider_reasons, event)
        )

    def apply(self, event: UnifiedEvent) -> tuple[UnifiedEvent, SeverityDecision]:
        decision = self.decide(event)
        if decision.severity is event.severity:
            return event, decision
        return event.model_copy(update={"severity": decision.severity}), decision


def _provider_reasons(event: UnifiedEvent) -> tuple[str, ...]:
    provider = event.resource.metadata.get("provider_severity")
    if provider not in (None, ""):
        return (f"no rule matched; the provider reported {provider!r}",)
    return ("no rule matched; kept the severity the normalizer derived",)


_HEADER = re.compile(r"^\s*\[\[\s*severity\s*\.\s*rules\s*\]\]")


def _rule_lines(text: str | None) -> list[int]:
    """1-based line of each ``[[severity.rules]]`` header, in order (tomllib reports no positions)."""
    if not text:
        return []
    return [i for i, line in enumerate(text.splitlines(), start=1) if _HEADER.match(line)]


def _key_line(text: str | None, header: int | None, key: str) -> int | None:
    if not text or not header or not key:
        return header
    lines = text.splitlines()
    for i in range(header, len(lines)):
        if i > header - 1 and lines[i].lstrip().startswith("["):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return header


def load_rules(
    section: Mapping[str, Any] | None, *, source_text: str | None = None, source: str = "config"
) -> RuleSet:
    """Validate the ``severity`` section; the first invalid rule raises :class:`RuleError` with its line."""
    if section is None:
        return RuleSet()
    if not isinstance(section, Mapping):
        raise RuleError(0, "[severity] must be a table", source=source)
    unknown = set(section) - {"rules", "use_defaults"}
    if unknown:
        raise RuleError(
            0,
            f"unknown key(s) in [severity]: {', '.join(sorted(unknown))} (allowed: rules, use_defaults)",
            source=source,
        )
    use_defaults = section.get("use_defaults", True)
    if not isinstance(use_defaults, bool):
        raise RuleError(0, "use_defaults must be true or false", source=source)
    raw_rules = section.get("rules", [])
    if not isinstance(raw_rules, list):
        raise RuleError(0, "rules must be an array of tables: [[severity.rules]]", source=source)
    headers = _rule_lines(source_text)
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        header = headers[index] if index < len(headers) else None
        name = raw.get("name") if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) else None
        if not isinstance(raw, Mapping):
            raise RuleError(index, "must be a table", line=header, source=source)
        try:
            rule = Rule.model_validate(dict(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = str(err["loc"][0]) if err["loc"] else ""
            what = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            raise RuleError(
                index,
                f"{what}: {message}" if what else message,
                name=name,
                line=_key_line(source_text, header, key),
                source=source,
            ) from None
        if rule.name in seen:
            raise RuleError(
                index,
                f"the name '{rule.name}' is used twice; names identify the rule that fired",
                name=name,
                line=header,
                source=source,
            )
        seen.add(rule.name)
        rules.append(rule)
    return RuleSet(rules, use_defaults=use_defaults)


def rules_from_settings(extensions: Mapping[str, Any], config_file: Path | None = None) -> RuleSet:
    """The rule set of a loaded config (``Settings.extensions``); reads the file again only for line numbers."""
    text = None
    if config_file is not None and config_file.exists():
        text = config_file.read_text(encoding="utf-8")
    return load_rules(extensions.get("severity"), source_text=text, source=str(config_file or "config"))
