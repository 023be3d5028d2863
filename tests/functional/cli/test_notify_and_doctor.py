"""``escher notify test`` through a loopback webhook, and doctor's brain and channel checks against real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from escher.emulators import free_port
from tests.functional.pipeline.servers import WebhookReceiver

ESCHER = str(Path(sys.executable).parent / "escher")
TOKEN = "T0KEN-abcdef123456"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ESCHER, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120
    )


def _config(home: Path, text: str) -> None:
    (home / "config").mkdir(exist_ok=True)
    (home / "config" / "config.toml").write_text(text)


def test_notify_test_delivers_to_each_channel_and_says_which_did_not(escher_home: Path) -> None:
    dead = free_port()  # nothing listens there
    with WebhookReceiver() as hook:
        _config(
            escher_home,
            f'[notify.channels.hook]\nurl = "json://127.0.0.1:{hook.port}/hooks/{TOKEN}"\n'
            f'[notify.channels.dead]\nurl = "json://127.0.0.1:{dead}/x"\n'
            '[notify.channels.mail]\nurl_env = "ESCHER_TEST_MAIL_URL"\n',
        )
        ok = run("notify", "test", "hook")
        assert ok.returncode == 0, ok.stderr
        assert len(hook.received) == 1 and hook.received[0].path == f"/hooks/{TOKEN}"
        assert "Escher test message" in json.dumps(hook.received[0].body)
        assert "✓ sent hook" in ok.stdout and TOKEN not in ok.stdout  # the URL is shown redacted

        every = run("-o", "json", "notify", "test")
        report = json.loads(every.stdout)
        assert every.returncode == 1 and report["ok"] is False
        by_channel = {d["channel"]: d for d in report["deliveries"]}
        assert by_channel["hook"]["ok"] and not by_channel["dead"]["ok"]
        assert "not configured" in by_channel["mail"]["detail"]
        assert len(hook.received) == 2

    typo = run("notify", "test", "hokk")
    assert typo.returncode == 2 and "did you mean 'hook'" in typo.stderr


def test_notify_test_without_channels_says_how_to_add_one(escher_home: Path) -> None:
    out = run("notify", "test")
    assert out.returncode == 2 and "[notify.channels.NAME]" in " ".join(out.stderr.split())


def test_doctor_checks_channels_and_the_brain(escher_home: Path) -> None:
    _config(
        escher_home,
        '[notify.channels.mail]\nurl_env = "ESCHER_TEST_MAIL_URL"\n'
        f'[brain]\nurl = "http://127.0.0.1:{free_port()}"\n',
    )
    checks = json.loads(run("-o", "json", "doctor", "--no-store").stdout)["checks"]
    by_name = {(c["area"], c["name"]): c for c in checks}
    assert by_name[("notify", "mail")]["status"] == "warn"
    assert "export ESCHER_TEST_MAIL_URL=" in by_name[("notify", "mail")]["hint"]
    assert (
        by_name[("brain", "url")]["status"] == "warn"
        and "escher brain serve" in by_name[("brain", "url")]["hint"]
    )


def test_doctor_checks_the_brain_answers_and_takes_the_token(
    escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    import urllib.request

    monkeypatch.delenv(
        "ESCHER_BRAIN_TOKEN", raising=False
    )  # "none is set" must mean none, whatever ran before

    port = free_port()
    brain = subprocess.Popen(
        [ESCHER, "brain", "serve", "--port", str(port)],
        env={**os.environ, "ESCHER_BRAIN_TOKEN": "right-token"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or brain.poll() is not None:
                    raise AssertionError("the brain did not start") from None
                time.sleep(0.3)

        def brain_checks(token: str | None) -> dict[str, dict[str, str]]:
            env = {"ESCHER_BRAIN_URL": f"http://127.0.0.1:{port}"}
            if token:
                env["ESCHER_BRAIN_TOKEN"] = token
            checks = json.loads(run("-o", "json", "doctor", "--no-store", env=env).stdout)["checks"]
            return {c["name"]: c for c in checks if c["area"] == "brain"}

        right = brain_checks("right-token")
        assert right["url"]["status"] == "ok" and right["token"]["status"] == "ok"
        wrong = brain_checks("wrong-token")
        assert wrong["token"]["status"] == "warn" and "refused" in wrong["token"]["detail"]
        assert "wrong-token" not in json.dumps(wrong) and "right-token" not in json.dumps(wrong)
        none = brain_checks(None)
        assert none["token"]["status"] == "warn" and "none is set" in none["token"]["detail"]
    finally:
        brain.terminate()
        brain.wait(timeout=30)
