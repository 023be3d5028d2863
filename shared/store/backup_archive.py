"""One backup archive: the database dump plus everything else the laptop keeps, streamed through a hash.

An archive is an uncompressed tar (the dump is already compressed: ``pg_dump -Fc``) with:

- ``store.dump`` -- the Escher database;
- ``data/...`` -- the data dir's files: approvals, templates, schedules, the Local Only state storage (alerts
  state, markers, the morning queue, watch watermarks), reports, the ledger's checkpoint file. Never the
  embedded server's own files (the dump stands for them), the signing key's private half (``keys/``), tokens
  (``brain/``, ``mcp/``) or earlier backups;
- ``config/...`` -- the config dir (config.toml, report templates);
- ``anchors/...`` -- the anchor dir: the anchor file and the pinned public keys.

It is written to a temporary file while its SHA-256 is computed, one chunk at a time (memory stays flat
whatever the store's size: ``bench/bench_backup.py`` prints the peak), and read back the same way: restore
checks the archive's hash against the manifest before it opens it, and each file's against its own entry.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from escher.store.errors import StoreError

__all__ = [
    "CHUNK",
    "ArchiveEntry",
    "HashingWriter",
    "extract",
    "file_sha256",
    "install",
    "roots_of",
    "write_archive",
]

CHUNK = 1 << 20
DUMP = "store.dump"
# never in a backup: the server's files (the dump stands for them), the private key, tokens, backups themselves
_SKIP_DATA = {"postgres", "keys", "brain", "mcp", "backups"}
FOLDERS = ("data", "config", "anchors")


@dataclass(frozen=True)
class ArchiveEntry:
    name: str  # "data/approvals.json"
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


class HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self._target.write(data)

    def flush(self) -> None:
        self._target.flush()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _walk(root: Path, skip_top: set[str], skip_dirs: tuple[Path, ...]) -> Iterator[Path]:
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not (here == root and d in skip_top) and (here / d).resolve() not in skip_dirs
        )
        for name in sorted(filenames):
            if name.endswith((".tmp", ".lock")) or name.startswith(".escher-"):
                continue
            path = here / name
            if path.is_file() and not path.is_symlink():
                yield path


def roots_of(
    data_dir: Path, config_dir: Path, anchor_dir: Path
) -> list[tuple[str, Path, set[str], tuple[Path, ...]]]:
    """(archive folder, directory, top-level names to skip, directories to skip) of what a backup carries."""
    anchors = anchor_dir.resolve()
    return [
        ("data", data_dir, _SKIP_DATA, (anchors,)),
        ("config", config_dir, set(), (anchors, data_dir.resolve())),
        ("anchors", anchor_dir, set(), ()),
    ]


def write_archive(
    out: IO[bytes], dump: Path, roots: list[tuple[str, Path, set[str], tuple[Path, ...]]]
) -> tuple[str, int, list[ArchiveEntry]]:
    """Stream the archive into ``out``; its SHA-256, its size and the entries it holds."""
    writer = HashingWriter(out)
    entries: list[ArchiveEntry] = []
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for name, path in [(DUMP, dump)] + [
            (f"{folder}/{p.relative_to(root).as_posix()}", p)
            for folder, root, skip, skip_dirs in roots
            for p in _walk(root, skip, skip_dirs)
        ]:
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                tar.addfile(info, _Tee(fh, digest))
            entries.append(ArchiveEntry(name, info.size, digest.hexdigest()))
    return writer.hash.hexdigest(), writer.size, entries


class _Tee:
    """Hash a member while tarfile copies it (one read of each file)."""

    def __init__(self, fh: IO[bytes], digest: Any) -> None:
        self._fh, self._digest = fh, digest

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._digest.update(data)
        return data


def extract(archive: Path, entries: list[dict[str, Any]], staging: Path) -> list[str]:
    """Unpack a verified archive into ``staging`` (``store.dump`` and ``<folder>/...``), checking each file's
    SHA-256 against its manifest entry; nothing is installed yet. Returns the names unpacked."""
    expected = {e["name"]: e for e in entries}
    unpacked: list[str] = []
    with tarfile.open(archive, mode="r:") as tar:
        for member in tar:
            name = member.name
            parts = PurePosixPath(name).parts
            if (
                not member.isfile()
                or name not in expected
                or ".." in parts
                or PurePosixPath(name).is_absolute()
                or (name != DUMP and (len(parts) < 2 or parts[0] not in FOLDERS))
            ):
                raise StoreError(
                    f"the backup archive holds an unexpected member {name!r}", hint="restore another backup"
                )
            source = tar.extractfile(member)
            assert source is not None  # a regular file
            target = staging.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with target.open("wb") as fh:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    fh.write(chunk)
            if digest.hexdigest() != expected[name]["sha256"]:
                raise StoreError(
                    f"{name} in the backup does not match its recorded SHA-256", hint="restore another backup"
                )
            unpacked.append(name)
    missing = set(expected) - set(unpacked)
    if missing:
        raise StoreError(f"the backup archive lacks {sorted(missing)[0]}", hint="restore another backup")
    return unpacked


def install(staging: Path, into: dict[str, Path]) -> list[str]:
    """Move the unpacked files into place once the database is restored. A file that exists is kept (a fresh
    data dir has none; a config written for this machine wins), except append-only ``.jsonl`` files (anchors,
    checkpoints), whose missing lines are added. Returns the names installed."""
    installed: list[str] = []
    for folder, root in into.items():
        base = staging / folder
        for path in sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []:
            rel = path.relative_to(base)
            target = root / rel
            if target.exists():
                if target.suffix != ".jsonl":
                    continue
                _merge_lines(path, target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), target)
            installed.append(f"{folder}/{rel.as_posix()}")
    return installed


def _merge_lines(new: Path, target: Path) -> None:
    have = set(target.read_text(encoding="utf-8").splitlines())
    extra = [line for line in new.read_text(encoding="utf-8").splitlines() if line and line not in have]
    if extra:
        with target.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(extra) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
