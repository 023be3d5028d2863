"""The brain's bearer token on this machine: ``ESCHER_BRAIN_TOKEN`` / ``[brain] token``, else a file in the data dir.

``escher brain serve`` resolves its token with :func:`server_token` (creating ``<data dir>/brain/token``, mode
0600, when nothing is configured) and prints where it came from; the client on the same machine finds the same
file with :func:`read_token_file` when no token is configured, so ``escher ask`` against a local brain needs no
setup. The token is compared in constant time by the server and never logged.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from escher.errors import EscherError

__all__ = ["TokenFileError", "read_token_file", "server_token", "token_file"]

Source = Literal["config", "file", "generated"]


class TokenFileError(EscherError):
    """The token file cannot be read or written, or is open to other users."""


def token_file(data_dir: Path) -> Path:
    return data_dir / "brain" / "token"


def read_token_file(data_dir: Path) -> str | None:
    """The token in the data dir, if there is one; refused when other users can read it."""
    path = token_file(data_dir)
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"cannot read the brain token at {path} ({type(exc).__name__})",
                             hint="delete the file; `escher brain serve` writes a new one") from None  # fmt: skip
    if os.name == "posix" and mode & 0o077:
        raise TokenFileError(f"the brain token at {path} is readable by other users (mode {mode & 0o777:o})",
                             hint=f"chmod 600 {path}, or delete it to have a new one made") from None  # fmt: skip
    return text or None


def server_token(configured: str | None, data_dir: Path) -> tuple[str, Source, Path | None]:
    """The token ``escher brain serve`` requires: the configured one, the data dir's, or a new one saved there."""
    if configured:
        return configured, "config", None
    path = token_file(data_dir)
    existing = read_token_file(data_dir)
    if existing:
        return existing, "file", path
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
    except FileExistsError:  # another `serve` made it first: use theirs
        again = read_token_file(data_dir)
        if again:
            return again, "file", path
        raise TokenFileError(
            f"the brain token at {path} is empty", hint="delete it and start again"
        ) from None
    except OSError as exc:
        raise TokenFileError(f"cannot write the brain token to {path} ({exc.strerror})",
                             hint="set ESCHER_BRAIN_TOKEN (or [brain] token) instead") from None  # fmt: skip
    return token, "generated", path
