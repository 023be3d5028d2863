"""The bearer token ``escher mcp --transport http`` requires: ``ESCHER_MCP_TOKEN``, else ``<data dir>/mcp/token``.

The file is made on first start (mode 0600, create-if-absent, so two servers starting together agree) and is
refused when other users can read it. The server compares tokens in constant time and never logs them.
stdio needs no token: the client launched the process and owns its pipes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

from escher.errors import EscherError
from escher.tokens import TokenFile

__all__ = ["McpTokenError", "server_token", "token_file"]


class McpTokenError(EscherError):
    """The token file cannot be read or written, or other users can read it."""


_MCP = TokenFile(
    label="MCP",
    folder="mcp",
    writer="`escher mcp --transport http`",
    fallback="set ESCHER_MCP_TOKEN instead",
    error=McpTokenError,
    configured_source="env",
)


def token_file(data_dir: Path) -> Path:
    return _MCP.path(data_dir)


def server_token(
    configured: str | None, data_dir: Path
) -> tuple[str, Literal["env", "file", "generated"], Path | None]:
    """The token to require: the configured one, the data dir's, or a new one saved there."""
    token, source, path = _MCP.server_token(configured, data_dir)
    return token, cast(Literal["env", "file", "generated"], source), path
