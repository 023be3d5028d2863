"""Errors of the rules package."""

from __future__ import annotations

from escher.errors import EscherError

__all__ = ["RuleError"]


class RuleError(EscherError):
    """A severity rule in the config is invalid; names the rule (index, name, TOML line) and the reason."""

    exit_code = 2

    def __init__(
        self,
        index: int,
        reason: str,
        *,
        name: str | None = None,
        line: int | None = None,
        source: str = "config",
    ) -> None:
        where = f"{source}, line {line}" if line else source
        label = f"severity rule #{index + 1}" + (f" '{name}'" if name else "")
        super().__init__(
            f"{label} ({where}): {reason}",
            hint="fix the rule in the [[severity.rules]] table named; see docs/events.md#severity-rules",
        )
        self.index = index
        self.line = line
        self.reason = reason
