"""Looked at (issue 17, item 10): every ``--help`` and ``escher doctor`` in a real terminal (tmux) at 80 columns,
and doctor at 120: nothing is cut. The issue saw ``AZURE_CLIENT_SECR…`` and a cut Pulumi URL in doctor's table.

Skipped with the reason when tmux is not installed (``make test`` installs it when apt-get can).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.unit.test_cli_surface import LEAVES

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

ESCHER = str(Path(sys.executable).parent / "escher")
END = "__ESCHER_SCREEN_END__"


def _terminal(script: str, width: int, tmp: Path) -> str:
    """Run ``script`` in a fresh tmux server (private socket) ``width`` columns wide; the whole scrollback,
    with the lines the terminal wrapped joined back (-J), once the script printed END."""
    socket = f"escher-width-{os.getpid()}-{time.monotonic_ns()}"
    conf = tmp / "tmux.conf"
    conf.write_text("set -g history-limit 100000\n")
    env = {
        k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")
    }  # the terminal's size decides
    sh = tmp / "screen.sh"
    sh.write_text(f"{script}\necho {END}\nsleep 600\n")

    def tmux(*args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", socket, "-f", str(conf), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        return done.stdout

    tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", "50", f"sh {shlex.quote(str(sh))}")
    try:
        deadline = time.monotonic() + 300
        while True:
            screen = tmux("capture-pane", "-p", "-J", "-t", "t", "-S", "-")
            if END in screen.replace(f"echo {END}", ""):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"the commands did not finish; screen:\n{screen[-3000:]}")
            time.sleep(0.5)
    finally:
        tmux("kill-server")


def test_every_help_at_80_columns_is_whole(tmp_path: Path) -> None:
    commands = list(dict.fromkeys([(), *LEAVES, *sorted({p[:1] for p in LEAVES if len(p) > 1})]))
    script = "\n".join(
        f"echo '=== {' '.join(p)}'; {shlex.quote(ESCHER)} {shlex.join(p)} --help" for p in commands
    )
    screen = _terminal(script, 80, tmp_path)
    blocks = dict(re.findall(r"^=== ?(.*?)\n(.*?)(?=^=== |^" + END + ")", screen, flags=re.S | re.M))
    assert len(blocks) == len(commands), sorted(blocks)
    for name, text in blocks.items():
        assert "Usage: escher" in text, (name, text)
        assert "…" not in text, (name, text)
        assert all(len(line) <= 80 for line in text.splitlines()), (name, text)
        summaries = text.split("\n", 1)[1]  # after the usage line, whose "[ARGS]..." is click's own
        assert not re.search(r"\w\.\.\.\s*$", summaries, flags=re.M), (
            name,
            text,
        )  # no summary cut with "..."


@pytest.mark.parametrize("width", [80, 120])
def test_doctor_shows_every_fix_whole(escher_home: Path, tmp_path: Path, width: int) -> None:
    # GIVEN a machine with nothing set up: every cloud, the brain and a channel need something done
    (escher_home / "config").mkdir()
    (escher_home / "config" / "config.toml").write_text(
        '[notify.channels.mail]\nurl_env = "ESCHER_TEST_MAIL_URL"\n[brain]\nurl = "http://127.0.0.1:9"\n'
    )
    as_json = subprocess.run(
        [ESCHER, "-o", "json", "doctor", "--no-store"], capture_output=True, text=True, timeout=120
    )
    hints = [c["hint"] for c in json.loads(as_json.stdout)["checks"] if c["hint"] and c["status"] != "ok"]
    assert len(hints) >= 6 and any("AZURE_CLIENT_SECRET" in h for h in hints)
    assert any("https://www.pulumi.com/docs/install/" in h for h in hints)
    # WHEN doctor runs in a terminal this wide
    screen = _terminal(f"{shlex.quote(ESCHER)} doctor --no-store", width, tmp_path)
    # THEN each fix is there whole, on its own line
    lines = [" ".join(line.split()) for line in screen.splitlines()]
    for hint in hints:
        assert f"→ {' '.join(hint.split())}" in lines, (hint, screen)
    assert "…" not in screen
