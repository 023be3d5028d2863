"""Start, wait for and stop a local server: the shared mechanics of every emulator."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from escher.errors import EscherError

LOOPBACK = "127.0.0.1"


class EmulatorError(EscherError):
    """A local emulator could not be started or did not answer."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int, *, timeout: float, name: str, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port, or fail with the reason."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            err = process.stderr.read().decode(errors="replace")[-2000:] if process.stderr else ""
            raise EmulatorError(
                f"{name} exited with status {process.returncode} before it listened: {err.strip()}"
            )
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise EmulatorError(
        f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s",
        hint="see whether the port is taken, or the machine is overloaded",
    )


def find_node_bin(name: str) -> Path | None:
    """Find an npm-installed binary: ESCHER_NODE_BIN, ./node_modules/.bin, the repo's node_modules, then PATH."""
    candidates = []
    if env := os.environ.get("ESCHER_NODE_BIN"):
        candidates.append(Path(env) / name)
    candidates.append(Path.cwd() / "node_modules" / ".bin" / name)
    candidates.extend(parent / "node_modules" / ".bin" / name for parent in Path(__file__).resolve().parents)
    for path in candidates:
        if path.is_file():
            return path
    found = shutil.which(name)
    return Path(found) if found else None


class ManagedProcess:
    """A child process that is always stopped: terminate, then kill, with its process group."""

    def __init__(
        self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None, log: Path | None = None
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log = log  # where a chatty server's stderr goes (a pipe nobody reads would fill and stall it)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, port: int, *, timeout: float = 30.0) -> None:
        sink = self.log.open("ab") if self.log else None
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdout=subprocess.DEVNULL,
                stderr=sink or subprocess.PIPE,
                env={**os.environ, **(self.env or {})},
                start_new_session=True,  # its own group, so children (java, node) are stopped with it
            )
        except OSError as exc:
            raise EmulatorError(f"cannot start {self.name}: {exc}") from exc
        finally:
            if sink:
                sink.close()
        try:
            wait_for_port(port, timeout=timeout, name=self.name, process=self.process)
        except EmulatorError:
            self.stop()
            raise

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        finally:
            if proc.stderr:
                proc.stderr.close()


class Emulator:
    """Base of every emulator: started once (``start`` again is a no-op), always stopped on exit.

    Subclasses implement ``_start`` and ``_stop``; ``with emulator:`` and an explicit ``start()`` may be mixed
    without starting a second server.
    """

    name = "emulator"
    _running = False

    def start(self) -> Self:
        if not self._running:
            self._start()
            self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._stop()

    def _start(self) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        """Environment variables that point the cloud SDKs at this emulator."""
        return {}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
