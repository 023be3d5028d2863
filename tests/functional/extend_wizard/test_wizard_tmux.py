"""'escher extend aws' in a real terminal (tmux, 150 columns): each of the vision's setup steps answered as a
person would, the review read, the stack deployed through the offline stand-in on moto; then 'escher extend
status' says the extension runs the laptop's settings. In the same terminal, --yes asks nothing, and a blocking
preflight finding stops the setup with its fix before anything is asked or written.

Skipped with the reason when tmux is not installed (``apt-get install -y tmux``).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from tests.functional.brain.test_chat_tmux import Tmux
from tests.functional.extend_wizard.conftest import LAPTOP_CONFIG, REGION, Laptop

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
REPO = Path(__file__).resolve().parents[3]
DONE = "ESCHER-EXITED="


@pytest.fixture
def terminal(laptop: Laptop) -> Iterator[Any]:
    opened: list[Tmux] = []

    def run(*args: str) -> Tmux:
        """``escher ARGS`` (with the stand-in stack) in a fresh terminal; the pane stays to be read after it."""
        command = shlex.join([sys.executable, "-m", "tests.functional.extend_wizard.standin", *args])
        script = f"cd {shlex.quote(str(REPO))} && {command}; echo {DONE}$?; sleep 600"
        env = {**laptop.env, "TERM": "xterm-256color", "NO_COLOR": "1", "COLUMNS": "150"}
        term = Tmux(["sh", "-c", script], env)
        opened.append(term)
        return term

    try:
        yield run
    finally:
        for term in opened:
            term.close()


SLOW = (
    240.0  # seconds: the preflight and the review (the program run under mocks) on a machine shared by many
)


def _answer(term: Tmux, question: str, text: str = "", *, count: int = 1) -> None:
    term.wait(question, count=count, timeout=SLOW)
    if text:
        term.type(text)
    term.keys("Enter")


def _state(key: str) -> Any:
    s3 = boto3.client("s3", region_name=REGION)
    return json.loads(s3.get_object(Bucket="escher-state-mock", Key=key)["Body"].read())


def test_the_five_steps_answered_in_a_terminal_deploy_what_was_answered(
    laptop: Laptop, terminal: Any
) -> None:
    term = terminal("extend", "aws")
    # step 1: the region; a wrong one is said and asked again, Enter keeps the config's
    term.wait("Step 1 of 5 · Region", timeout=SLOW)
    _answer(term, "Region to deploy into (us-east-1)", "mars")
    term.wait("'mars' is not a region name of aws; give one like us-east-1 (--region)")
    _answer(term, "Region to deploy into (us-east-1)", count=2)
    # step 2: the preflight read moto's account: the trail is logging, no name clashes
    shown = term.wait("aws: ready", timeout=SLOW)
    assert (
        "Step 2 of 5 · Preflight" in shown and "✓ cloudtrail: multi-region trail logging: org-trail" in shown
    )
    # step 3: the six switches, in the vision's order, each off unless turned on
    term.wait("Step 3 of 5 · Pre-approved fixes")
    _answer(term, "Automatically make public buckets private? [y/n] (n)", "y")
    _answer(term, "Automatically stop idle instances after the idle hours below? [y/n] (n)", "y")
    _answer(term, "idle hours (2.0)", "3")
    _answer(term, "Automatically enable encryption on unencrypted volumes? [y/n] (n)")
    _answer(term, "Automatically scale up resources approaching capacity? [y/n] (n)")
    _answer(term, "Automatically restart failed services? [y/n] (n)")
    _answer(term, "Automatically roll back failed deployments? [y/n] (n)", "n")
    # step 4: a channel by the variable holding its URL, and the extension's e-mail address
    term.wait("Step 4 of 5 · Notifications")
    _answer(term, "Add a notification channel? [y/n] (n)", "y")
    _answer(term, "name (e.g. slack, email, pagerduty)", "hook")
    _answer(term, "$VARIABLE holding its URL", "$ESCHER_TEST_HOOK_URL")
    _answer(term, "Add a notification channel? [y/n] (n)", count=2)
    _answer(term, "E-mail address for the extension's own alerts", "ops@example.com")
    # step 5: the laptop's Azure keys are offered, not taken; GCP has none here
    shown = term.wait(
        "Copy this laptop's azure keys into the extension's secret store? [y/n] (n)", timeout=SLOW
    )
    assert "Step 5 of 5 · Credentials" in shown and "gcp: no long-lived gcp keys on this laptop" in shown
    term.keys("Enter")
    # the review: the permissions, the monthly cost, what the answers change; then the final question
    shown = term.wait("Provision Escher into aws (us-east-1) now? [y/n] (n)", timeout=SLOW)
    review = " ".join(shown.split("Review", 1)[1].split())
    assert "Permissions the worker gets" in review and "no wildcards" in review
    assert "Estimated cost per month when idle (USD)" in review and "Total ≈ $" in review
    assert "Pre-approved fixes: make_public_buckets_private, stop_idle_instances" in review
    assert "Notification channels added: hook ($ESCHER_TEST_HOOK_URL)" in review
    assert (
        "Extension e-mail alerts: ops@example.com" in review
        and "Credentials copied from this laptop: none" in review
    )
    assert laptop.config.read_text() == LAPTOP_CONFIG  # nothing written before the final yes
    term.type("y")
    term.keys("Enter")
    shown = term.wait(DONE, timeout=300)
    assert f"{DONE}0" in shown and "✓ Escher runs in aws" in shown, shown
    assert "Traceback" not in shown

    # THEN the config holds the answers (written the way 'escher remediation' and [notify] keep them)
    config = tomllib.loads(laptop.config.read_text())
    assert config["remediation"]["make_public_buckets_private"] is True
    assert config["remediation"]["stop_idle_instances"] is True and config["remediation"]["idle_hours"] == 3.0
    assert not any(config["remediation"][k] for k in ("encrypt_unencrypted_volumes", "scale_up_near_capacity",
                                                       "restart_failed_services", "rollback_failed_deployments"))  # fmt: skip
    assert config["notify"]["channels"] == {"hook": {"url_env": "ESCHER_TEST_HOOK_URL"}}
    assert config["extend"]["notify_email"] == "ops@example.com"
    # the extension was deployed with them: the published settings, no Azure key in SSM
    published = _state("settings/effective.json")
    assert published["version"] == 1
    assert published["content"]["config"]["extensions"]["remediation"]["idle_hours"] == 3.0
    ssm = boto3.client("ssm", region_name=REGION)
    names = [p["Name"] for p in ssm.get_parameters_by_path(Path="/escher/credentials")["Parameters"]]
    assert "/escher/credentials/azure" not in names
    # and the status says it runs the laptop's settings; the worker has not run yet
    result = CliRunner().invoke(app, ["-o", "json", "extend", "status"])
    assert result.exit_code == 0, (result.output, result.exception)
    aws = json.loads(result.stdout)["clouds"]["aws"]
    assert aws["mode"] == "thin-client" and aws["region"] == REGION
    assert aws["settings"]["state"] == "in sync" and aws["settings"]["version"] == 1
    assert aws["worker"]["last_daily_job"] is None


def test_yes_in_a_terminal_asks_nothing(laptop: Laptop, terminal: Any) -> None:
    term = terminal("extend", "aws", "--yes", "--enable", "make_public_buckets_private")
    shown = term.wait(DONE, timeout=300)
    assert f"{DONE}0" in shown and "✓ Escher runs in aws" in shown, shown
    assert "[y/n]" not in shown and "Step 1 of 5" not in shown
    assert tomllib.loads(laptop.config.read_text())["remediation"]["make_public_buckets_private"] is True


def test_a_blocking_preflight_finding_stops_the_setup_with_its_fix(laptop: Laptop, terminal: Any) -> None:
    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name="org-trail")
    term = terminal("extend", "aws")
    _answer(term, "Region to deploy into (us-east-1)")
    shown = term.wait(DONE, timeout=120)
    flat = " ".join(shown.split())
    assert "✗ cloudtrail: no multi-region CloudTrail trail is logging" in flat
    assert "fix: aws s3 mb s3://<trail-bucket>" in flat and "Nothing was changed." in flat
    assert f"{DONE}3" in shown and "Step 3 of 5" not in shown and "Traceback" not in shown
    assert laptop.config.read_text() == LAPTOP_CONFIG
