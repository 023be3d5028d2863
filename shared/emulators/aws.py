"""AWS on loopback: the moto server in a thread of this process (``moto[server]``)."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from escher.emulators._process import LOOPBACK, Emulator
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
        self._server: Any = None
        self.port = 0

    def _start(self) -> None:
        server_mod = require("moto.server", "demo")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request drowns everything else
        # port 0: the OS picks a free port (start() hangs when a fixed port is taken).
        self._server = server_mod.ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]

    def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

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
