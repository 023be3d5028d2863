"""The brain's bearer token on this machine: ``ESCHER_BRAIN_TOKEN`` / ``[brain] token``, else a file in the data dir.

``escher brain serve`` resolves its token with :func:`server_token` (creating ``<data dir>/brain/token``, mode
0600, when nothing is configured) and prints where it came from; the client on the same machine finds the same
file with :func:`read_token_file` when no token is configured, so ``escher ask`` against a local brain needs no
setup. The token is compared in constant time by the server and never logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

from escher.errors import EscherError
from escher.tokens import TokenFile

__all__ = ["TokenFileError", "read_token_file", "server_token", "token_file"]

Source = Literal["config", "file", "generated"]


class TokenFileError(EscherError):
    """The token file cannot be read or written, or is open to other users."""


_BRAIN = TokenFile(
    label="brain",
    folder="brain",
    writer="`escher brain serve`",
    fallback="set ESCHER_BRAIN_TOKEN (or [brain] token) instead",
    error=TokenFileError,
    configured_source="config",
)


def token_file(data_dir: Path) -> Path:
    return _BRAIN.path(data_dir)


def read_token_file(data_dir: Path) -> str | None:
    """The token in the data dir, if there is one; refused when other users can read it."""
    return _BRAIN.read(data_dir)


def server_token(configured: str | None, data_dir: Path) -> tuple[str, Source, Path | None]:
    """The token ``escher brain serve`` requires: the configured one, the data dir's, or a new one saved there."""
    token, source, path = _BRAIN.server_token(configured, data_dir)
    return token, cast(Source, source), path
