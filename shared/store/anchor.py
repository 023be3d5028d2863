"""Ledger heads anchored outside the database, where its superuser cannot reach them.

An *anchor* is a signed head of one chain -- (chain, seq, hash, time), signed with the pinned key -- written:

- after every append, to the local anchor file ``<anchor dir>/anchors.jsonl`` (append-only, fsynced). The anchor
  dir is outside the data dir (default ``<config dir>/ledger``; ``ESCHER_ANCHOR_DIR`` or ``[audit] anchor_dir``
  to move it), so copying an older data dir back, or deleting it, leaves the anchors that prove it;
- when the store closes, to the audit bucket (``ESCHER_AUDIT_URL``) or else the state bucket
  (``ESCHER_STATE_URL`` / ``[state] url``) when one is configured: one create-only object per head. On S3
  Object Lock, an Azure immutability policy or a GCS retention policy (Extend mode), not even the account owner
  can take it back. Before its first head, the bucket also gets each pinned public key as a create-only
  ``ledger-keys/<key id>.pub``: an attacker who replaces the key and the local pin file cannot take back the
  key that signed the bucket's heads, and a locally pinned key the bucket never saw is named by verify.

Each line names its *ledger* -- the embedded server of a data dir, or an external database by host and name --
from the configuration, never from the database, so a database that changed its own identity is still judged
against the anchors of the place it sits in.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escher.store.errors import StoreError
from escher.store.ledger import Checkpoint

if TYPE_CHECKING:
    from escher.config import Paths
    from escher.state import ObjectStore
    from escher.store.ledger import Ledger

__all__ = [
    "ANCHOR_DIR_ENV",
    "AnchorFile",
    "BucketAnchors",
    "accept_restore",
    "anchor_dir",
    "bucket_anchors",
    "ledger_name",
]

ANCHOR_DIR_ENV = "ESCHER_ANCHOR_DIR"
AUDIT_URL_ENV = "ESCHER_AUDIT_URL"
PREFIX = "ledger-anchors/"
KEYS_PREFIX = "ledger-keys/"


def anchor_dir(paths: Paths, extensions: Mapping[str, Any] | None = None) -> Path:
    """Where the anchor file and the pinned public keys live: never inside the data dir."""
    if env := os.environ.get(ANCHOR_DIR_ENV):
        return Path(env).expanduser()
    section = (extensions or {}).get("audit")
    if isinstance(section, dict) and isinstance(section.get("anchor_dir"), str):
        return Path(section["anchor_dir"]).expanduser()
    return paths.config_dir / "ledger"


def ledger_name(data_dir: Path, url: str | None) -> str:
    """Which ledger this is, from the configuration: the data dir's embedded server, or host/port/database."""
    if not url:
        return f"embedded:{data_dir.expanduser().resolve()}"
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    return f"postgres:{info.get('host', '')}:{info.get('port', '')}/{info.get('dbname', '')}"


def _to_line(ledger: str, cp: Checkpoint) -> str:
    return json.dumps({"ledger": ledger, **cp.to_json()}, sort_keys=True) + "\n"


def _from_json(data: Mapping[str, Any]) -> Checkpoint:
    return Checkpoint(
        str(data["chain"]), int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["key_id"]),
        str(data["signature"]),
    )  # fmt: skip


class AnchorFile:
    """The local, append-only anchor file (one JSON line per anchored head)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "anchors.jsonl"

    def append(self, ledger: str, cps: Sequence[Checkpoint]) -> None:
        if not cps:
            return
        data = "".join(_to_line(ledger, cp) for cp in cps).encode()
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(
                f"the audit record was stored but its anchor could not be written to {self.path}: {exc.strerror}",
                hint=f"make {self.directory} writable (or set {ANCHOR_DIR_ENV}); 'escher audit verify' still "
                "checks the chain",
            ) from exc

    def read(self, ledger: str) -> list[Checkpoint]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            try:
                data = json.loads(line)
                if data.get("ledger") == ledger:
                    found.append(_from_json(data))
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line after a crash: the lines before it still stand
        return found

    def move_aside(self, stamp: str) -> Path | None:
        """Rename the anchor file to ``anchors.jsonl.<stamp>`` (kept: it is the evidence); None if there is none."""
        kept = self.path.with_name(f"{self.path.name}.{stamp}")
        try:
            os.rename(self.path, kept)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot move {self.path} aside: {exc.strerror}", hint=f"make {self.directory} "
                             "writable") from exc  # fmt: skip
        return kept


def accept_restore(ledger: Ledger, actor: str, reason: str) -> dict[str, Any]:
    """Judge the ledger from its restored state on: the local anchors are moved aside (kept), an
    ``audit.accept_restore`` record names the heads they held and the reason, and every chain is anchored anew.
    Bucket anchors are left alone: on WORM storage they keep showing the history before the restore."""
    from datetime import UTC, datetime

    from escher.audit import AuditRecord
    from escher.store.ledger import CHAINS

    if ledger.anchors is None:
        raise StoreError("this store keeps no local anchors: there is no restore to accept",
                         hint="open the store through 'escher' (Store.open), which anchors its heads")  # fmt: skip
    if not reason.strip():
        raise StoreError("a restore is accepted with its reason", hint='pass --reason "..."')
    old: dict[str, Checkpoint] = {}
    for cp in ledger.anchors.read(ledger.name):
        if cp.seq >= old.get(cp.chain, cp).seq:
            old[cp.chain] = cp
    now = datetime.now(UTC)
    kept = ledger.anchors.move_aside(now.strftime("%Y%m%dT%H%M%S%fZ"))
    details = {
        "anchored_heads": {c: {"seq": cp.seq, "hash": cp.hash, "at": cp.at} for c, cp in sorted(old.items())},
        "restored_heads": {c: {"seq": s, "hash": h} for c in CHAINS for s, h in [ledger.head(c)] if s},
        "anchors_kept": str(kept) if kept else None,
    }
    record = AuditRecord(at=now, actor=actor, action="audit.accept_restore", target=ledger.name, reason=reason,
                         outcome="succeeded", details=details)  # fmt: skip
    ledger.append_audit(record)
    ledger.checkpoint()  # every chain anchored anew: locally, and in the bucket when there is one
    return {"record_id": record.record_id, **details}


class BucketAnchors:
    """One create-only object per anchored head under ``ledger-anchors/<ledger hash>/<chain>/``."""

    def __init__(self, url: str, objects: ObjectStore | None = None, *, pins: Path | None = None) -> None:
        self.url = url
        self._objects = objects
        self.pins = pins  # the anchor dir whose pinned keys are published before the first head
        self._published = False

    @property
    def objects(self) -> ObjectStore:
        """Opened on first use: a command that writes nothing never pays for a cloud SDK."""
        if self._objects is None:
            from escher.state import open_state

            self._objects = open_state(self.url)
        return self._objects

    @staticmethod
    def _folder(ledger: str) -> str:
        return f"{PREFIX}{hashlib.sha256(ledger.encode()).hexdigest()[:16]}/"

    def append(self, ledger: str, cps: Iterable[Checkpoint]) -> None:
        from escher.state import AlreadyExistsError, StateError

        cps = list(cps)
        if cps and self.pins is not None and not self._published:
            from escher.store.keys import pinned_keys

            self.publish_keys(pinned_keys(self.pins))
        for cp in cps:
            key = f"{self._folder(ledger)}{cp.chain}/{cp.seq:015d}-{cp.hash[:16]}.json"
            try:
                self.objects.put_if_absent(key, _to_line(ledger, cp).encode())
            except AlreadyExistsError:
                continue  # the same head anchored before: it stands
            except StateError as exc:
                raise StoreError(
                    f"the ledger head (seq {cp.seq}) could not be anchored in {self.url}: {exc}",
                    hint="the records are stored and anchored locally; fix the bucket's access (or unset "
                    f"{AUDIT_URL_ENV} / ESCHER_STATE_URL) and the next command anchors the head again",
                ) from exc

    def publish_keys(self, keys: Mapping[str, str]) -> None:
        """Each public key (key id -> base64) as a create-only object, once: a key already there stands."""
        from escher.state import AlreadyExistsError, StateError

        try:
            there = {info.key.rsplit("/", 1)[-1] for info in self.objects.list(KEYS_PREFIX)}
            for key_id, public in sorted(keys.items()):
                if f"{key_id}.pub" in there:
                    continue
                try:
                    self.objects.put_if_absent(f"{KEYS_PREFIX}{key_id}.pub", f"{key_id} {public}\n".encode())
                except AlreadyExistsError:
                    continue
        except StateError as exc:
            raise StoreError(
                f"the ledger's public key could not be pinned in {self.url}: {exc}",
                hint="the records are stored and anchored locally; fix the bucket's access (or unset "
                f"{AUDIT_URL_ENV} / ESCHER_STATE_URL) and the next command pins the key again",
            ) from exc
        self._published = True

    def read_keys(self) -> dict[str, str]:
        """key id -> public key (base64) of every key pinned in the bucket; an object whose id does not match
        its key is skipped (it vouches for nothing)."""
        from escher.store.keys import key_id_of

        found: dict[str, str] = {}
        for info in self.objects.list(KEYS_PREFIX):
            parts = self.objects.get(info.key).data.decode("utf-8", "replace").split()
            try:
                if len(parts) >= 2 and key_id_of(parts[1]) == parts[0]:
                    found[parts[0]] = parts[1]
            except ValueError:
                continue
        return found

    def read(self, ledger: str) -> list[Checkpoint]:
        """The newest anchor of each chain (object names sort by sequence number)."""
        newest: dict[str, str] = {}
        for info in self.objects.list(self._folder(ledger)):
            chain = info.key.rsplit("/", 2)[-2]
            if info.key > newest.get(chain, ""):
                newest[chain] = info.key
        found = []
        for key in newest.values():
            try:
                found.append(_from_json(json.loads(self.objects.get(key).data)))
            except (ValueError, KeyError, TypeError):
                continue  # unreadable: verify reports the anchors it could read
        return found


def bucket_anchors(extensions: Mapping[str, Any] | None = None) -> BucketAnchors | None:
    """The audit bucket (``ESCHER_AUDIT_URL``), else the state bucket, when one is configured."""
    from escher.state import state_url

    url = os.environ.get(AUDIT_URL_ENV) or state_url(dict(extensions or {}))
    return BucketAnchors(url) if url else None
