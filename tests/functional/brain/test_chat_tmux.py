"""`escher chat` in a real terminal (tmux, 100 columns): the issue's measurements, each held here.

- Up recalls the previous question (it printed ``^[[A`` on ``input()``), and the history is kept in the data
  dir, readable by its owner only;
- Tab completes a resource name of the estate;
- "only the dev ones" narrows the previous answer (it got the help text), through the same resolution, and a
  follow-up that names something else never reaches beyond the previous selection.

Skipped with the reason when tmux is not installed (``apt-get install -y tmux``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.brain.conftest import Estate

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
ESCHER = str(Path(sys.executable).parent / "escher")


class Tmux:
    """One tmux server on a private socket (never the user's), one session running ``argv``."""

    def __init__(self, argv: list[str], env: dict[str, str], *, width: int = 150) -> None:
        self.socket = f"escher-test-{os.getpid()}-{time.monotonic_ns()}"
        command = "env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " " + shlex.join(argv)
        self._tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", "50", command)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-t", "t", "-S", "-500")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "t", "-l", text)

    def wait(self, predicate: str, *, count: int = 1, timeout: float = 90.0) -> str:
        """Wait until ``predicate`` shows ``count`` times on the screen; return the screen."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if shown.count(predicate) >= count:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{predicate!r} x{count} never showed; screen:\n{shown}")
            time.sleep(0.3)

    def close(self) -> None:
        self._tmux("kill-server")


@pytest.fixture
def chat(estate: Estate, escher_home: Path) -> Iterator[Tmux]:
    keep = ("PATH", "HOME", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED", "ESCHER_CONFIG_DIR", "ESCHER_DATA_DIR",
            "ESCHER_DATABASE_URL", "ESCHER_USER")  # fmt: skip
    env = {k: os.environ[k] for k in keep if k in os.environ} | {
        "TERM": "xterm-256color",
        "NO_COLOR": "1",
        "COLUMNS": "150",
    }
    term = Tmux([ESCHER, "chat", "--local"], env)
    try:
        term.wait("Ctrl-D to leave")
        term.wait("you>")
        yield term
    finally:
        term.close()


def test_history_completion_and_follow_ups_in_a_real_terminal(
    chat: Tmux, estate: Estate, escher_home: Path
) -> None:
    chat.type("list the instances in us-east-1")
    chat.keys("Enter")
    shown = chat.wait("you>", count=2)
    assert all(i in shown for i in estate.dev + estate.prod) and not any(i in shown for i in estate.west_dev)

    # a follow-up narrows the previous answer: the dev ones of those, never the us-west-2 dev one
    chat.type("only the dev ones")
    chat.keys("Enter")
    shown = chat.wait("you>", count=3)
    after = shown.split("you> only the dev ones", 1)[1]
    assert all(i in after for i in estate.dev), after
    assert not any(i in after for i in estate.prod + estate.west_dev), after
    assert "follow-up, read as: only the dev ones; list the instances in us-east-1" in after

    # Up recalls the last question (no ^[[A), Ctrl-U clears the line
    chat.keys("Up")
    time.sleep(1)
    last = chat.screen().rstrip().splitlines()[-1]
    assert last == "you> only the dev ones" and "^[[A" not in chat.screen()
    chat.keys("C-u")

    # Tab completes a name of the estate
    chat.type("show prod-w")
    chat.keys("Tab")
    time.sleep(1)
    assert chat.screen().rstrip().splitlines()[-1].startswith("you> show prod-web")
    chat.keys("C-u", "C-d")
    history = escher_home / "data" / "assist" / "chat_history"
    deadline = time.monotonic() + 20
    while "only the dev ones" not in (history.read_text() if history.exists() else ""):
        assert time.monotonic() < deadline, "the chat history file was not written"
        time.sleep(0.2)
    assert history.stat().st_mode & 0o077 == 0  # the person's own questions: readable by them only
