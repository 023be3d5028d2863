"""Severity rules: Escher's defaults and the user's ``[[severity.rules]]``, declarative and explainable."""

from __future__ import annotations

from escher.rules.errors import RuleError
from escher.rules.model import Condition, Rule
from escher.rules.severity import DEFAULT_RULES, RuleSet, SeverityDecision, load_rules, rules_from_settings

__all__ = [
    "DEFAULT_RULES",
    "Condition",
    "Rule",
    "RuleError",
    "RuleSet",
    "SeverityDecision",
    "load_rules",
    "rules_from_settings",
]
