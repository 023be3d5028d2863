"""A bearer token kept in the data dir (``<data dir>/<folder>/token``, mode 0600) for a server on this machine.

Shared by the brain (``escher brain serve``) and the MCP server (``escher mcp --transport http``): a configured
token wins; otherwise the file's, else a new one created if absent (two servers starting together agree). A file
other users can read is refused. Servers compare tokens in constant time and never log them.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from escher.errors import EscherError

__all__ = ["TokenFile"]


@dataclass(frozen=True)
class TokenFile:
    label: str  # how messages name the token: "brain", "MCP"
    folder: str  # under the data dir
    writer: str  # the command that makes the file, for hints
    fallback: str  # what to set instead when the file cannot be written
    error: type[EscherError]
    configured_source: str  # what server_token reports for a configured token

    def path(self, data_dir: Path) -> Path:
        return data_dir / self.folder / "token"

    def read(self, data_dir: Path) -> str | None:
        """The token in the data dir, if there is one; refused when other users can read it."""
        path = self.path(data_dir)
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise self.error(f"cannot read the {self.label} token at {path} ({type(exc).__name__})",
                             hint=f"delete the file; {self.writer} writes a new one") from None  # fmt: skip
        if os.name == "posix" and mode & 0o077:
            raise self.error(f"the {self.label} token at {path} is readable by other users (mode {mode & 0o777:o})",
                             hint=f"chmod 600 {path}, or delete it to have a new one made")  # fmt: skip
        return text or None

    def server_token(self, configured: str | None, data_dir: Path) -> tuple[str, str, Path | None]:
        """The token to require: the configured one, the data dir's, or a new one saved there."""
        if configured:
            return configured, self.configured_source, None
        path = self.path(data_dir)
        existing = self.read(data_dir)
        if existing:
            return existing, "file", path
        token = secrets.token_urlsafe(32)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(token + "\n")
        except FileExistsError:  # another server made it first: use theirs
            again = self.read(data_dir)
            if again:
                return again, "file", path
            raise self.error(
                f"the {self.label} token at {path} is empty", hint="delete it and start again"
            ) from None
        except OSError as exc:
            raise self.error(f"cannot write the {self.label} token to {path} ({exc.strerror})",
                             hint=self.fallback) from None  # fmt: skip
        return token, "generated", path
