"""Errors of the scans package."""

from __future__ import annotations

from escher.errors import EscherError

__all__ = ["CloudAccessError", "ScanError"]


class ScanError(EscherError):
    """A scan could not run."""


class CloudAccessError(ScanError):
    """Credentials or endpoint for a cloud are missing or refused."""

    exit_code = 4
