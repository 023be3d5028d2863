"""``escher demo --console``: after the scripted run, the demo's laptop opens the Escher Console on the demo estate.

The demo's workers wrote their alerts, the held SSH fix and their audit into the state bucket on moto, as the
extension's workers do in the user's cloud. Here the demo's laptop is set up as a laptop that extended itself onto
that bucket (``escher extend aws``'s local record, no stack): the console syncs from it as ``escher sync`` does,
so the CRITICAL banner (the PII bucket, fixed) and the HIGH one with the pending SSH fix are there, and a manager
(``mona``, named in the demo's ``[personas]``) approves the fix and runs it on moto through the one gate.

The emulators and the temp dir stay until the console stops (Ctrl-C); the user's own config is never touched.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MANAGER", "PERSONAS", "ConsoleHandle", "attach_laptop", "serve_demo_console"]

MANAGER = "mona"  # who uses the demo's console: a manager; the request was raised by the worker ("aws")
PERSONAS = f"""
[personas]
# who may approve in the demo: mona, the one using the console
managers = ["{MANAGER}"]
"""


@dataclass
class ConsoleHandle:
    url: str  # with the token: what a person opens
    base_url: str
    stop: Callable[[], None]


def attach_laptop(state_url: str, config_file: Path) -> dict[str, Any]:
    """The demo's laptop as one that extended AWS onto ``state_url``: the local record only, as
    ``escher extend aws`` leaves it. The laptop keeps its own state (the workers' variables are dropped for the
    console), and the first sync runs now, so the console opens on the demo's results. Returns what it pulled."""
    from escher.config import resolve_paths
    from escher.extend.pull import pull_all
    from escher.infra.driver import LocalState, save_outputs

    for name in ("ESCHER_STATE_URL", "ESCHER_DEAD_LETTER_URL", "ESCHER_AUDIT_URL"):
        os.environ.pop(name, None)  # the worker's settings; the laptop reads its own state and syncs
    os.environ["ESCHER_USER"] = MANAGER
    with config_file.open("a", encoding="utf-8") as fh:
        fh.write(PERSONAS)
    paths = resolve_paths()
    save_outputs(paths, "aws", {"state_url": state_url})
    local = LocalState.load(paths)
    local.clouds["aws"] = {"mode": "thin-client"}
    local.save()
    pulled: dict[str, Any] = {}
    for result in pull_all(paths):
        for kind, n in result.pulled.items():
            pulled[kind] = pulled.get(kind, 0) + n
    return pulled


def serve_demo_console(
    *, port: int = 0, token: str | None = None, open_browser: bool = False
) -> ConsoleHandle:
    """Start ``escher console`` in this process on the demo's environment (its token: ``token``, else
    ``ESCHER_CONSOLE_TOKEN``, else a new one, as ``escher console``); the caller stops it."""
    from escher.console.app import serve

    handle = serve(port=port, token=token, open_browser=open_browser)
    return ConsoleHandle(url=handle.login_url, base_url=handle.base_url, stop=handle.stop)


def wait_for_interrupt(stop: threading.Event | None = None) -> None:
    """Block until Ctrl-C or SIGTERM (both raise KeyboardInterrupt, left to the caller, so the emulators and the
    temp dir are cleaned up either way) or until ``stop`` is set. A shell that starts a background job without job
    control makes it ignore SIGINT: there ``kill`` (SIGTERM) still stops the demo cleanly."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, interrupt) if main else None
    try:
        (stop or threading.Event()).wait()
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)
