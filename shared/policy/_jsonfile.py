"""A small JSON document on disk, read-modify-written under an exclusive lock and replaced atomically.

Good for a laptop's approvals and templates (a handful of writers, a few hundred entries); the store issue may
put the same Protocols on Postgres.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from escher.policy.errors import PolicyError

__all__ = ["JsonDocument"]


class JsonDocument:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise PolicyError(
                f"{self.path} is not valid JSON ({exc.msg} at line {exc.lineno})",
                hint="restore it from a backup, or move it away to start empty",
            ) from exc
        if not isinstance(data, dict):
            raise PolicyError(f"{self.path} does not hold a JSON object", hint="move it away to start empty")
        return data

    def read(self) -> dict[str, Any]:
        with self._locked():
            return self._read()

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        with self._locked():
            data = self._read()
            change(data)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
            tmp.replace(self.path)
            return data
