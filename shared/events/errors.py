"""Errors of the events package."""

from __future__ import annotations

from escher.errors import EscherError

__all__ = ["NormalizationError"]


class NormalizationError(EscherError):
    """A payload could not be turned into a ``UnifiedEvent``; names the source kind and the field."""

    exit_code = 4

    def __init__(self, source_kind: str, field: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(
            f"{source_kind}: field '{field}' {problem}",
            hint=hint or "the payload does not have the documented shape; dead-letter it with this reason",
        )
        self.source_kind = source_kind
        self.field = field
        self.problem = problem

    def to_dict(self) -> dict[str, str | None]:
        return {**super().to_dict(), "source_kind": self.source_kind, "field": self.field}
