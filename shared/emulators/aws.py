"""AWS on loopback: the moto server in a process of its own (``moto[server]``).

Not a thread of this one: moto prints to stdout when asked for a service it does not emulate (IAM Access
Analyzer, say), which would land in the middle of ``escher demo -o json``'s output; its own process writes its
chatter to a log file instead, and its CPU no longer competes with the caller's interpreter."""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from escher.emulators._process import LOOPBACK, Emulator, ManagedProcess, free_port
from escher.lazy import require

# moto accepts any credentials; these make sure a real profile on the laptop is never used by accident.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class MotoEmulator(Emulator):
    name = "moto server"

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self._process: ManagedProcess | None = None
        self._logs: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0

    def _start(self) -> None:
        require("moto.server", "demo")  # the extra that installs it, named when it is missing
        self.port = free_port()
        self._logs = tempfile.TemporaryDirectory(prefix="escher-moto-")
        argv = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)]
        self._process = ManagedProcess(self.name, argv, log=Path(self._logs.name) / "moto.log")
        try:
            self._process.start(self.port, timeout=60.0)
        except BaseException:
            self._logs.cleanup()
            raise

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop()
        logs, self._logs = self._logs, None
        if logs is not None:
            logs.cleanup()

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            **FAKE_CREDENTIALS,
        }

    def _post(self, path: str, body: dict[str, Any] | None = None) -> None:
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(
            self.endpoint_url + path, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def reset(self) -> None:
        """Forget every resource: each test starts from an empty account."""
        self._post("/moto-api/reset")

    def set_cost_and_usage(self, results: list[dict[str, Any]]) -> None:
        """Queue canned Cost Explorer answers (moto cannot compute costs)."""
        self._post("/moto-api/static/ce/cost-and-usage-results", {"results": results})
