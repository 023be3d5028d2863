"""One small registry type for normalizers, checks and operations, keyed ``<cloud>.<service>.<name>``.

After Cloud Custodian's ``c7n/registry.py``: a string-to-object map that doubles as a decorator. Entries are
defined in modules that the registry imports on first use (``modules=``), so importing a package that owns a
registry costs nothing until an entry is looked up.

    NORMALIZERS: Registry[Normalizer] = Registry("normalizer", modules=["escher.events.aws", ...])

    @NORMALIZERS.register("aws.s3.put_bucket_acl")
    class PutBucketAcl(Normalizer): ...
"""

from __future__ import annotations

import difflib
import importlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from escher.errors import EscherError, NotFoundError

__all__ = ["KEY_PATTERN", "DuplicateEntryError", "Registry", "UnknownEntryError"]

T = TypeVar("T")
# cloud . service . name; "any" is for entries that are not tied to one cloud (a generic event, say).
KEY_PATTERN = re.compile(r"^(aws|azure|gcp|any)\.[a-z0-9_]+(\.[a-z0-9_]+)+$")


class UnknownEntryError(NotFoundError):
    """A key that no entry has (exit code 2: the input names nothing)."""


class DuplicateEntryError(EscherError):
    """Two entries claimed one key: a programming error, raised at import."""


class Registry(Generic[T]):
    def __init__(self, kind: str, *, modules: Sequence[str] = ()) -> None:
        self.kind = kind
        self._modules = tuple(modules)
        self._loaded = not self._modules
        self._loading = threading.RLock()
        self._loading_now = False
        self._entries: dict[str, T] = {}

    def add(self, key: str, entry: T) -> T:
        if not KEY_PATTERN.match(key):
            raise ValueError(f"{self.kind} key {key!r} is not '<cloud>.<service>.<name>' in lower snake case")
        if key in self._entries and self._entries[key] is not entry:
            raise DuplicateEntryError(f"two {self.kind}s are registered as {key!r}")
        self._entries[key] = entry
        return entry

    def register(self, key: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(entry: T) -> T:
            return self.add(key, entry)

        return decorate

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        # Workers look entries up from several threads: the first one loads while the others wait, so no
        # thread ever sees a half-filled registry. Re-entrant: an entry module may look itself up while loading.
        with self._loading:
            if self._loaded or self._loading_now:
                return
            self._loading_now = True
            try:
                for module in self._modules:
                    importlib.import_module(module)
                self._loaded = True
            finally:
                self._loading_now = False

    def get(self, key: str) -> T:
        self._ensure_loaded()
        try:
            return self._entries[key]
        except KeyError:
            close = difflib.get_close_matches(key, self._entries, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"see the list of {self.kind}s"
            raise UnknownEntryError(f"no {self.kind} named {key!r}", hint=hint) from None

    def find(self, key: str) -> T | None:
        self._ensure_loaded()
        return self._entries.get(key)

    def keys(self, prefix: str = "") -> list[str]:
        self._ensure_loaded()
        return sorted(k for k in self._entries if k.startswith(prefix))

    def items(self, prefix: str = "") -> list[tuple[str, T]]:
        return [(k, self._entries[k]) for k in self.keys(prefix)]

    def __contains__(self, key: object) -> bool:
        self._ensure_loaded()
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._entries)
