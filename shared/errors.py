"""The base of every error a person sees.

Each package defines its own subclasses (``ConfigError``, ``NormalizationError``, ...). The CLI prints
``message`` and ``hint`` and exits with ``exit_code``; nothing else is caught to hide it.
"""

from __future__ import annotations

__all__ = ["EscherError", "MissingExtraError", "NotFoundError"]


class EscherError(Exception):
    """An error with a message a person can act on."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, str | None]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class NotFoundError(EscherError):
    """An id or name given by the user names nothing (a finding, approval, operation, schedule, alert...).

    Exit code 2, like any other input that cannot be used; a package's own error type can mix this in
    (``class UnknownApprovalError(NotFoundError, ApprovalError)``) so that its callers still catch it.
    """

    exit_code = 2


class MissingExtraError(EscherError):
    """An optional dependency is not installed."""

    exit_code = 3

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this needs the Python package '{module.split('.')[0]}', which is not installed",
            hint=f"install it with: pip install 'escher[{extra}]'",
        )
        self.module = module
        self.extra = extra
