"""A small evaluator of AWS identity policies, enough to ask "may this role do X on Y?" of a generated policy.

IAM's rules for one identity policy: an explicit Deny that matches wins; else a matching Allow allows; else
the request is implicitly denied. Actions and resources match with ``*`` and ``?`` (actions case-insensitively).
Conditions: ``Null`` and ``StringEquals`` are evaluated against the request context; any other operator makes
the statement not match (for an Allow that is the safe reading; our denies carry no condition).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any, Literal

Decision = Literal["allow", "explicit-deny", "implicit-deny"]


def _glob(pattern: str, value: str, *, fold: bool = False) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return re.fullmatch(fnmatch.translate(pattern), value) is not None


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            if operator == "Null":
                absent = key not in context
                if absent != (str(expected).lower() == "true"):
                    return False
            elif operator == "StringEquals":
                if context.get(key) not in _as_list(expected):
                    return False
            else:
                return False
    return True


def _matches(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    return (
        any(_glob(a, action, fold=True) for a in _as_list(statement["Action"]))
        and any(_glob(r, resource) for r in _as_list(statement["Resource"]))
        and _condition_holds(statement.get("Condition", {}), context)
    )


def decide(
    policy: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str] | None = None
) -> Decision:
    context = context or {}
    statements = policy["Statement"]
    if any(s["Effect"] == "Deny" and _matches(s, action, resource, context) for s in statements):
        return "explicit-deny"
    if any(s["Effect"] == "Allow" and _matches(s, action, resource, context) for s in statements):
        return "allow"
    return "implicit-deny"
