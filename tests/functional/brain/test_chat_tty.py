"""``escher chat`` driven as a person would: a real process on a pseudo-terminal, typed answers, read screens.

The estate is seeded in moto and scanned; the chat runs on the local planner. Two questions, a plan answered
"n" (moto: nothing stopped, no audit record), a playbook saved and found again with ``escher brain playbooks``.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from escher.cli.main import app
from tests.functional.brain.conftest import Estate, chat_rows

ESCHER = str(Path(sys.executable).parent / "escher")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class Terminal:
    """A child process on a pty: ``expect`` reads until a pattern shows, ``send`` types a line."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.screen = ""  # everything shown so far, ANSI stripped
        self._seen = 0

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            self.screen += _ANSI.sub("", chunk.decode("utf-8", "replace"))

    def expect(self, pattern: str, timeout: float = 60.0) -> str:
        """Wait for ``pattern`` in what appeared since the last match; return that stretch of screen."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.screen, self._seen)
            if m:
                shown = self.screen[self._seen : m.end()]
                self._seen = m.end()
                return shown
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self._read(0.2)
                if not rx.search(self.screen, self._seen):
                    raise AssertionError(f"{pattern!r} never showed; screen:\n{self.screen[-3000:]}")
            self._read(0.2)

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def eof(self) -> None:
        os.write(self.master, b"\x04")

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.master)


def test_a_conversation_on_a_terminal(estate: Estate, escher_home: Path) -> None:
    # TERM=dumb: prompt_toolkit's plain line mode, so this stream of bytes reads as lines; the full terminal
    # (editing, history, completion) is driven in tmux by test_chat_tmux.py
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "250", "LINES": "60", "NO_COLOR": "1"}
    term = Terminal([ESCHER, "chat"], env)
    try:
        term.expect(r"Ctrl-D to leave")
        term.expect(r"you> ")
        term.send("list the dev instances in us-east-1")
        shown = term.expect(r"you> ")
        assert all(i in shown for i in estate.dev)
        assert not any(i in shown for i in estate.prod + estate.west_dev)

        term.send("stop the dev instances in us-east-1")
        shown = term.expect(r"Step 1: run aws\.ec2\.stop_instances on 2 resource\(s\)\? \[y/N\]: ")
        assert "aws.ec2.stop_instances" in shown and "local planner" in shown
        term.send("n")
        shown = term.expect(r"you> ")
        assert re.search(r"declined aws\.ec2\.stop_instances: not confirmed", shown), shown

        term.send("give me a playbook for public buckets")
        shown = term.expect(r"Save this playbook\? \[y/N\]: ")
        found = re.search(r" ([a-z0-9-]+) \((?:aws|azure|gcp)[a-z, ]*, security_hardening\)", shown)
        assert found, shown
        playbook_id = found.group(1)
        term.send("y")
        shown = term.expect(r"you> ")
        assert re.search(rf"saved to .*{playbook_id}\.json", shown.replace("\n", "")), shown
        # prompt_toolkit shows the prompt before it puts the terminal in raw mode; a Ctrl-D typed in between
        # is the cooked terminal's end-of-file, which it never reads: type it as a person would, a moment later
        time.sleep(1)
        term.eof()
        assert term.close() == 0
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
            term.proc.wait()

    # nothing executed: moto still runs everything, and no operation was audited
    assert set(estate.states().values()) == {"running"}
    from tests.harness.ledger import audit_records

    assert all(r["outcome"] not in ("verified", "succeeded", "executed") for r in audit_records(escher_home))
    # the three exchanges are one conversation in the client's history
    chat = chat_rows(os.environ["ESCHER_DATABASE_URL"], escher_home)  # kept in the knowledge store
    assert len({c["conversation_id"] for c in chat}) == 1
    assert [c["role"] for c in chat] == ["user", "assistant"] * 3
    assert chat[2]["content"] == "stop the dev instances in us-east-1"
    assert chat[3]["content"].startswith("[execution]") and chat[5]["content"].startswith("[playbook]")

    # the saved playbook is found again, as the user's copy
    listed = CliRunner().invoke(app, ["-o", "json", "brain", "playbooks", "--saved"])
    assert listed.exit_code == 0, listed.output
    saved = json.loads(listed.stdout)
    assert [(p["id"], p["source"]) for p in saved] == [(playbook_id, "saved")]
    everything = json.loads(CliRunner().invoke(app, ["-o", "json", "brain", "playbooks"]).stdout)
    sources = {p["id"]: p["source"] for p in everything}
    assert sources[playbook_id] == "saved" and "library" in sources.values()


def test_chat_without_a_terminal_says_to_use_ask(escher_home: Path) -> None:
    done = subprocess.run(
        [ESCHER, "chat"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "escher chat needs a terminal" in done.stdout + done.stderr
