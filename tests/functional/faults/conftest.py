from __future__ import annotations

from tests.functional.ops.conftest import sink

__all__ = ["sink"]
