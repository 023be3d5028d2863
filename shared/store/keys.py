"""The local Ed25519 key that signs ledger batches, anchors and purge markers, and where its public half is pinned.

The private key lives in ``<data dir>/keys/ledger-ed25519.pem`` (0600, created on first use, never uploaded).
Its public half is *pinned* in ``<anchor dir>/ledger-keys.pub`` (see :mod:`escher.store.anchor`), outside the
database and outside the data dir: verification trusts only pinned keys. The database's ``ledger_keys`` table is
kept for backups to carry, and is never trusted -- a superuser could insert a key of their own there.

Each person who approves on this laptop has an approver key of their own, ``<data dir>/keys/approvers/<name>.pem``
(:func:`approver_key`, created on first use, 0600): it signs their decisions on an extension's requests, and its
public half travels in the published settings, where the worker looks for it (:mod:`escher.pipeline.granted`).
A manager who decides on another laptop has their key there; its public half is listed in this laptop's
``<data dir>/keys/approvers.pub`` (:func:`imported_approver_keys`) so that this laptop publishes it too.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Any

from escher.lazy import require
from escher.store.errors import StoreError

__all__ = [
    "SigningKey",
    "approver_key",
    "approver_key_path",
    "approvers_file",
    "imported_approver_keys",
    "key_id_of",
    "key_path",
    "load_or_create",
    "pin",
    "pin_file",
    "pin_public",
    "pinned_keys",
    "verify_signature",
]


def key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / "ledger-ed25519.pem"


class SigningKey:
    def __init__(self, private_key: Any) -> None:
        serialization = require("cryptography.hazmat.primitives.serialization", "store")
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key_b64 = base64.b64encode(raw).decode()
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message)).decode()


def load_or_create(data_dir: Path) -> SigningKey:
    return _load_or_create_at(key_path(data_dir))


def approver_key_path(data_dir: Path, name: str) -> Path:
    """Where ``name``'s approver key lives: the name itself when it is a plain file name, else its hash."""
    safe = re.fullmatch(r"[A-Za-z0-9_@-][A-Za-z0-9._@-]{0,63}", name) is not None
    stem = name if safe else "h-" + hashlib.sha256(name.encode()).hexdigest()[:32]
    return data_dir / "keys" / "approvers" / f"{stem}.pem"


def approver_key(data_dir: Path, name: str) -> SigningKey:
    """``name``'s approver key on this laptop, created on first use."""
    return _load_or_create_at(approver_key_path(data_dir, name))


def approvers_file(data_dir: Path) -> Path:
    """Other laptops' approver keys this laptop publishes too: ``<name> <public key, base64>`` a line."""
    return data_dir / "keys" / "approvers.pub"


def imported_approver_keys(data_dir: Path) -> dict[str, list[str]]:
    """name -> the public keys listed for them in :func:`approvers_file` (none when it does not exist)."""
    path = approvers_file(data_dir)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StoreError(
            f"cannot read {path}: {exc.strerror}", hint="make it readable, or remove it"
        ) from exc
    found: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 2 or not _is_public_key(parts[1]):
            raise StoreError(
                f"{path} line {number} is not '<name> <Ed25519 public key, base64>'",
                hint="take the key from the approvers in the other laptop's published settings, or remove the line",
            )
        found.setdefault(parts[0], []).append(parts[1])
    return found


def _is_public_key(text: str) -> bool:
    try:
        return len(base64.b64decode(text, validate=True)) == 32
    except ValueError:
        return False


def _load_or_create_at(path: Path) -> SigningKey:
    ed25519 = require("cryptography.hazmat.primitives.asymmetric.ed25519", "store")
    serialization = require("cryptography.hazmat.primitives.serialization", "store")
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise StoreError(
                f"the signing key {path} is readable by others (mode {mode:o})",
                hint=f"chmod 600 {path}",
            )
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as exc:
            raise StoreError(
                f"the signing key {path} is unreadable: {exc}",
                hint="restore it from your own copy; a new key cannot vouch for old checkpoints",
            ) from exc
        return SigningKey(key)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and exclusive: a crash never leaves half a key, a racer never two keys
    except FileExistsError:
        return _load_or_create_at(path)  # another process or thread made it first: use theirs
    finally:
        tmp.unlink()
    return SigningKey(key)


def verify_signature(public_key_b64: str, message: bytes, signature_b64: str) -> bool:
    ed25519 = require("cryptography.hazmat.primitives.asymmetric.ed25519", "store")
    exceptions = require("cryptography.exceptions", "store")
    try:
        public = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        public.verify(base64.b64decode(signature_b64), message)
    except (exceptions.InvalidSignature, ValueError):
        return False
    return True


def pin_file(anchor_dir: Path) -> Path:
    return anchor_dir / "ledger-keys.pub"


def key_id_of(public_key_b64: str) -> str:
    """The id a public key is pinned under: the first 16 hex digits of the SHA-256 of its raw bytes."""
    return hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()[:16]


def pinned_keys(anchor_dir: Path) -> dict[str, str]:
    """key id -> public key (base64) of every pinned key; a line whose id does not match its key is skipped."""
    path = pin_file(anchor_dir)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StoreError(
            f"cannot pin the ledger's public key in {path}: cannot read it ({exc.strerror})",
            hint=f"make {anchor_dir} a readable directory, or set ESCHER_ANCHOR_DIR to one outside the data dir",
        ) from exc
    found: dict[str, str] = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#"):
            try:
                if key_id_of(parts[1]) == parts[0]:
                    found[parts[0]] = parts[1]
            except ValueError:
                continue
    return found


def pin(anchor_dir: Path, key: SigningKey) -> bool:
    """Pin the key's public half (append-only); True when it was not pinned before."""
    return pin_public(anchor_dir, key.key_id, key.public_key_b64)


def pin_public(anchor_dir: Path, key_id: str, public_key_b64: str) -> bool:
    """Pin a public key (a restored backup's, say); True when it was not pinned before."""
    try:
        valid = key_id_of(public_key_b64) == key_id
    except ValueError:
        valid = False
    if not valid:
        raise StoreError(f"the public key given for {key_id} does not match its id", hint="check its source")
    if key_id in pinned_keys(anchor_dir):
        return False
    from datetime import UTC, datetime

    line = f"{key_id} {public_key_b64} {datetime.now(UTC).isoformat()}\n"
    try:
        anchor_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(pin_file(anchor_dir), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreError(
            f"cannot pin the ledger's public key in {pin_file(anchor_dir)}: {exc.strerror}",
            hint=f"make {anchor_dir} writable, or set ESCHER_ANCHOR_DIR to a directory outside the data dir",
        ) from exc
    return True
