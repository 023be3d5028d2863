"""``escher mcp``'s own refusals, before anything is served or a token is made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ESCHER = str(Path(sys.executable).with_name("escher"))


def test_http_is_served_on_loopback_only_and_no_token_is_made(escher_home: Path) -> None:
    done = subprocess.run([ESCHER, "mcp", "--transport", "http", "--host", "0.0.0.0"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "loopback only" in done.stderr and done.stdout == ""
    assert not (escher_home / "data" / "mcp" / "token").exists()


def test_help_names_both_transports() -> None:
    done = subprocess.run([ESCHER, "mcp", "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "stdio" in done.stdout and "http" in done.stdout
