"""One small registry type for normalizers, checks and operations, keyed ``<cloud>.<service>.<name>``.

After Cloud Custodian's ``c7n/registry.py`` and its resource map: a string-to-object map that doubles as a
decorator. Entries are defined in modules that the registry imports on first use (``modules=``), so importing
a package that owns a registry costs nothing until an entry is looked up; and the modules are indexed by
cloud, so an ``aws.*`` lookup imports only the AWS modules (and those of no one cloud).

    NORMALIZERS: Registry[Normalizer] = Registry("normalizer", modules=["escher.clouds.aws.events", ...])
    CHECKS: Registry[Check] = Registry("check", modules={"aws": [...], "azure": [...], "gcp": [...]})

    @NORMALIZERS.register("aws.s3.put_bucket_acl")
    class PutBucketAcl(Normalizer): ...

A mapping is indexed as given (cloud -> modules: the providers' entry modules); a flat list by module name:
a module in ``escher.clouds.<cloud>``, or one named ``<cloud>`` or ``<cloud>_<topic>``, is that cloud's; any
other (``escher.events.activity``) is loaded for every lookup. The index only saves
imports: a key not found among its cloud's modules is looked for again after loading them all.
"""

from __future__ import annotations

import difflib
import importlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar

from escher.clouds.provider import CLOUDS
from escher.errors import EscherError, NotFoundError

__all__ = ["ANY", "KEY_PATTERN", "DuplicateEntryError", "Registry", "UnknownEntryError", "cloud_of_module"]

T = TypeVar("T")
# "any" is for entries that are not tied to one cloud (a generic event, say), and for modules of no one cloud.
ANY = "any"
# cloud . service . name, the clouds being the providers' names
KEY_PATTERN = re.compile(rf"^({'|'.join(map(re.escape, (*CLOUDS, ANY)))})\.[a-z0-9_]+(\.[a-z0-9_]+)+$")


def cloud_of_module(module: str) -> str:
    """The cloud whose package holds an entry module (``escher.clouds.aws.ops.ec2`` -> ``aws``), else ``any``.

    A module outside ``escher.clouds`` may still be named for a cloud (``pkg.aws_things`` -> ``aws``)."""
    parts = module.split(".")
    if parts[:2] == ["escher", "clouds"] and len(parts) > 2:
        return parts[2] if parts[2] in CLOUDS else ANY
    head = parts[-1].split("_", 1)[0]
    return head if head in CLOUDS else ANY


class UnknownEntryError(NotFoundError):
    """A key that no entry has (exit code 2: the input names nothing)."""


class DuplicateEntryError(EscherError):
    """Two entries claimed one key: a programming error, raised at import."""


class Registry(Generic[T]):
    def __init__(self, kind: str, *, modules: Sequence[str] | Mapping[str, Sequence[str]] = ()) -> None:
        self.kind = kind
        self._index = _index(modules)
        self._modules = tuple(m for names in self._index.values() for m in names)
        self._loaded_clouds: set[str] = set()
        self._loaded = not self._modules
        self._loading = threading.RLock()
        self._loading_now = False
        self._entries: dict[str, T] = {}

    @property
    def modules(self) -> dict[str, tuple[str, ...]]:
        """cloud (or ``any``) -> the entry modules of that cloud, as the index holds them."""
        return dict(self._index)

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

    def _ensure_loaded(self, cloud: str | None = None) -> None:
        """Import the entry modules: those of ``cloud`` (and of no one cloud), or all of them (None)."""
        if self._loaded:
            return
        # Workers look entries up from several threads: the first one loads while the others wait, so no
        # thread ever sees a half-filled registry. Re-entrant: an entry module may look itself up while loading.
        with self._loading:
            if self._loaded or self._loading_now:
                return
            wanted = list(self._index) if cloud not in self._index or cloud == ANY else [ANY, cloud]
            self._loading_now = True
            try:
                for group in wanted:
                    if group in self._loaded_clouds:
                        continue
                    for module in self._index.get(group, ()):
                        importlib.import_module(module)
                    self._loaded_clouds.add(group)
                self._loaded = self._loaded_clouds >= set(self._index)
            finally:
                self._loading_now = False

    def _load_for(self, key: str) -> None:
        self._ensure_loaded(key.split(".", 1)[0])
        if key not in self._entries:
            self._ensure_loaded()  # the index saves imports, it is never the answer: look everywhere first

    def get(self, key: str) -> T:
        self._load_for(key)
        try:
            return self._entries[key]
        except KeyError:
            close = difflib.get_close_matches(key, self._entries, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"see the list of {self.kind}s"
            raise UnknownEntryError(f"no {self.kind} named {key!r}", hint=hint) from None

    def find(self, key: str) -> T | None:
        self._load_for(key)
        return self._entries.get(key)

    def keys(self, prefix: str = "") -> list[str]:
        # "aws." (or "aws.ec2") needs only AWS's modules; "" or "aw" needs them all
        self._ensure_loaded(prefix.split(".", 1)[0] if "." in prefix else None)
        return sorted(k for k in self._entries if k.startswith(prefix))

    def items(self, prefix: str = "") -> list[tuple[str, T]]:
        return [(k, self._entries[k]) for k in self.keys(prefix)]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        self._load_for(key)
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._entries)


def _index(modules: Sequence[str] | Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    if isinstance(modules, Mapping):
        unknown = sorted(set(modules) - {*CLOUDS, ANY})
        if unknown:
            raise ValueError(
                f"registry modules keyed by {unknown}: use a cloud ({', '.join(CLOUDS)}) or {ANY!r}"
            )
        return {cloud: tuple(names) for cloud, names in modules.items() if names}
    index: dict[str, list[str]] = {}
    for module in modules:
        index.setdefault(cloud_of_module(module), []).append(module)
    return {cloud: tuple(names) for cloud, names in index.items()}
