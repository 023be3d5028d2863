"""Deferred imports of heavy optional dependencies.

The core and the workers must import no cloud SDK, pulumi or anthropic at import time (a test checks
``sys.modules``); code that needs one calls :func:`require` at the point of use.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from escher.errors import MissingExtraError

__all__ = ["is_installed", "require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        if module == missing or module.startswith(missing + "."):
            raise MissingExtraError(module, extra) from exc
        raise


def is_installed(module: str) -> bool:
    """True when ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ModuleNotFoundError, ValueError):
        return False
