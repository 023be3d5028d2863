"""'escher extend aws' from flags: --yes asks nothing and deploys what the flags say (on moto, through the offline
stand-in), writing the switches and channels the way 'escher remediation' and [notify] keep them, copying no key
of the laptop's; --dry-run shows the review and changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from tests.functional.extend_wizard.conftest import LAPTOP_CONFIG, REGION, Laptop

ESCHER = str(Path(sys.executable).parent / "escher")


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(app, ["-o", "json", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def _state(key: str) -> Any:
    s3 = boto3.client("s3", region_name=REGION)
    return json.loads(s3.get_object(Bucket="escher-state-mock", Key=key)["Body"].read())


def test_yes_deploys_what_the_flags_say_and_copies_no_key(laptop: Laptop) -> None:
    # WHEN the setup is scripted: one switch on, the idle threshold, a channel by its variable, an address
    data = _cli("extend", "aws", "--yes", "--enable", "make_public_buckets_private", "--enable",
                "stop-idle-instances", "--idle-hours", "3", "--channel", "hook=$ESCHER_TEST_HOOK_URL",
                "--notify-email", "ops@example.com")  # fmt: skip
    # THEN it deployed (the stand-in stack on moto) and published the settings into the state bucket
    assert data["mode"] == "thin-client" and data["outputs"]["state_url"] == "s3://escher-state-mock"
    assert data["settings"]["version"] == 1
    # the config holds the answers, the rest of the file as it was (its comment too)
    text = laptop.config.read_text()
    assert text.startswith("# my laptop's Escher\n[aws]")
    config = tomllib.loads(text)
    assert config["remediation"]["make_public_buckets_private"] is True
    assert config["remediation"]["stop_idle_instances"] is True and config["remediation"]["idle_hours"] == 3
    assert config["remediation"]["restart_failed_services"] is False
    assert config["notify"]["channels"] == {"hook": {"url_env": "ESCHER_TEST_HOOK_URL"}}
    assert config["notify"]["routes"] == {"CRITICAL": ["banner"]}
    assert config["extend"] == {"notify_email": "ops@example.com"}
    # the worker runs exactly those: the published document says so, the channel by its secret's name only
    document = _state("settings/effective.json")
    assert document["version"] == 1  # one deploy, one version: nothing left to publish again on the way out
    published = document["content"]
    assert published["config"]["extensions"]["remediation"]["make_public_buckets_private"] is True
    assert published["config"]["extensions"]["notify"]["channels"] == {"hook": {"secret": "notify-hook"}}
    assert "T0KEN" not in json.dumps(published)
    # the laptop's Azure service principal stayed on the laptop: nothing asked for it
    assert data["credentials_stored"] == [] and set(data["credentials_missing"]) == {"azure", "gcp"}
    ssm = boto3.client("ssm", region_name=REGION)
    names = [p["Name"] for p in ssm.get_parameters_by_path(Path="/escher/credentials")["Parameters"]]
    assert "/escher/credentials/azure" not in names
    assert "laptop-only-secret" not in json.dumps(data)
    # both acts are in the ledger: the settings the setup changed, then the deploy
    rows = _cli("audit", "list", "--no-sync", "--limit", "50")
    acts = [(r["action"], r["outcome"]) for r in rows]
    assert ("extend.setup", "succeeded") in acts and ("escher.extend", "succeeded") in acts
    [setup] = [r for r in rows if r["action"] == "extend.setup"]
    assert (
        setup["actor"] == "user:alice"
        and setup["after"]["remediation"]["make_public_buckets_private"] is True
    )


def test_copy_credentials_is_the_only_way_a_laptop_key_is_copied(laptop: Laptop) -> None:
    # no --yes: a stdin that is not a terminal asks nothing either (CliRunner's is not one)
    data = _cli("extend", "aws", "--copy-credentials", "azure")
    assert data["credentials_stored"] == ["azure"]
    ssm = boto3.client("ssm", region_name=REGION)
    stored = ssm.get_parameter(Name="/escher/credentials/azure", WithDecryption=True)["Parameter"]["Value"]
    assert "laptop-only-secret" in stored


def test_dry_run_shows_the_review_and_changes_nothing(laptop: Laptop) -> None:
    data = _cli(
        "extend", "aws", "--dry-run", "--enable", "make_public_buckets_private", "--region", "eu-west-1"
    )
    assert data["dry_run"] is True and data["answers"]["region"] == "eu-west-1"
    assert data["changes"]["remediation"] == {"make_public_buckets_private": [False, True]}
    assert data["permissions"] and all("*" not in p for p in data["permissions"])
    assert data["monthly_usd"] >= 0 and data["costs"]
    assert laptop.config.read_text() == LAPTOP_CONFIG  # nothing written
    assert "Nothing is deployed" in CliRunner().invoke(app, ["extend", "status"]).stdout
    s3 = boto3.client("s3", region_name=REGION)
    assert "escher-state-mock" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--region", "mars"], "is not a region name of aws"),
        (["--enable", "make_everything_fine"], "no remediation switch named"),
        (["--channel", "slack"], "has no '='"),
        (["--channel", "banner=slack://a/b/c"], "cannot name a channel"),
        (["--notify-email", "not-an-address"], "is not an e-mail address"),
        (["--copy-credentials", "aws"], "cannot copy aws credentials"),
        (["--capacity-percent", "120", "--enable", "scale_up_near_capacity"], "capacity_percent"),
    ],
)
def test_a_wrong_flag_is_named_before_anything_happens(
    laptop: Laptop, flags: list[str], message: str
) -> None:
    # the installed entry point, as a script runs it: the error and what to do, exit 2, no traceback
    done = subprocess.run([ESCHER, "extend", "aws", "--yes", *flags], env=laptop.env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    said = " ".join(done.stderr.split())
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert message in said and "What to do:" in said and "Traceback" not in said + done.stdout
    assert laptop.config.read_text() == LAPTOP_CONFIG
