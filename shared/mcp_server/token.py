"""The bearer token ``escher mcp --transport http`` requires: ``ESCHER_MCP_TOKEN``, else ``<data dir>/mcp/token``.

The file is made on first start (mode 0600, create-if-absent, so two servers starting together agree) and is
refused when other users can read it. The server compares tokens in constant time and never logs them.
stdio needs no token: the client launched the process and owns its pipes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from escher.errors import EscherError

__all__ = ["McpTokenError", "server_token", "token_file"]


class McpTokenError(EscherError):
    """The token file cannot be read or written, or other users can read it."""


def token_file(data_dir: Path) -> Path:
    return data_dir / "mcp" / "token"


def _read(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise McpTokenError(f"cannot read the MCP token at {path} ({type(exc).__name__})",
                            hint="delete the file; `escher mcp --transport http` writes a new one") from None  # fmt: skip
    if os.name == "posix" and mode & 0o077:
        raise McpTokenError(f"the MCP token at {path} is readable by other users (mode {mode & 0o777:o})",
                            hint=f"chmod 600 {path}, or delete it to have a new one made")  # fmt: skip
    return text or None


def server_token(
    configured: str | None, data_dir: Path
) -> tuple[str, Literal["env", "file", "generated"], Path | None]:
    """The token to require: the configured one, the data dir's, or a new one saved there."""
    if configured:
        return configured, "env", None
    path = token_file(data_dir)
    existing = _read(path)
    if existing:
        return existing, "file", path
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
    except FileExistsError:  # another server made it first: use theirs
        again = _read(path)
        if again:
            return again, "file", path
        raise McpTokenError(f"the MCP token at {path} is empty", hint="delete it and start again") from None
    except OSError as exc:
        raise McpTokenError(f"cannot write the MCP token to {path} ({exc.strerror})",
                            hint="set ESCHER_MCP_TOKEN instead") from None  # fmt: skip
    return token, "generated", path
