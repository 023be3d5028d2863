"""``--plan``: offline, every resource listed, secrets redacted, idle cost under the $1/month goal."""

from __future__ import annotations

import json

import pytest

from escher.infra.costs import IDLE_BUDGET_USD
from escher.infra.plan import REDACTED, run_plan
from tests.functional.infra.conftest import make_spec

pytest.importorskip("pulumi")


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_plan_lists_resources_redacts_secrets_and_stays_under_a_dollar(cloud: str, bundle: str) -> None:
    plan = run_plan(make_spec(cloud, bundle))
    assert len(plan.resources) > 15
    assert all(not r.type.startswith("escher:") for r in plan.resources)
    assert plan.permissions and plan.operations
    assert 0 < plan.monthly_usd <= IDLE_BUDGET_USD
    text = json.dumps(plan.to_dict(), default=str)
    assert "unset: written by" not in text  # the credential placeholders are secrets: redacted
    if cloud != "gcp":  # GCP creates secrets without values
        assert REDACTED in text


def test_plan_resets_pulumi_so_a_second_plan_is_independent(bundle: str) -> None:
    first = run_plan(make_spec("aws", bundle))
    second = run_plan(make_spec("aws", bundle, events=()))
    assert len(second.resources) < len(first.resources)
    assert not [r for r in second.resources if r.type == "aws:cloudwatch/eventRule:EventRule"]


@pytest.mark.parametrize(
    ("cloud", "state", "dead_letters"),
    [("aws", "s3://", "sqs://"), ("azure", "azblob://", "azblob://"), ("gcp", "gs://", "pubsub://projects/")],
)
def test_plan_shows_where_the_worker_keeps_state_and_dead_letters(
    cloud: str, state: str, dead_letters: str, bundle: str
) -> None:
    env = run_plan(make_spec(cloud, bundle)).worker_environment
    assert env["ESCHER_STATE_URL"].startswith(state)
    assert env["ESCHER_DEAD_LETTER_URL"].startswith(dead_letters)
    assert env["ESCHER_TIMEZONE"] == "Europe/Paris" and env["ESCHER_DAILY_SCAN_AT"] == "02:00"


def test_the_worker_environment_is_shown_with_its_secrets_redacted() -> None:
    from escher.infra.plan import SECRET_SIG, SIG_KEY, worker_environment

    variables = {
        "ESCHER_STATE_URL": "s3://escher-state",
        "ESCHER_NOTIFY_SLACK_URL": "slack://T000/B000/XXXXXXXX",
        "ESCHER_SECRET_PREFIX": "escher-",  # a name, not a secret
        "DB": "postgresql://escher:hunter22@db.example.com/escher",
        "API_TOKEN": "abc123def456",
        "WRAPPED": {SIG_KEY: SECRET_SIG, "value": "from pulumi.Output.secret"},
    }
    env = worker_environment("aws:lambda/function:Function", {"environment": {"variables": variables}})
    assert env is not None
    assert env["ESCHER_STATE_URL"] == "s3://escher-state" and env["ESCHER_SECRET_PREFIX"] == "escher-"
    assert env["ESCHER_NOTIFY_SLACK_URL"] == env["API_TOKEN"] == env["WRAPPED"] == REDACTED
    # the password never shows; the host stays readable (redact masks the user too since ca62de0)
    assert "hunter22" not in env["DB"] and env["DB"].endswith("db.example.com/escher")
    assert worker_environment("aws:s3/bucket:Bucket", {}) is None


@pytest.mark.parametrize(
    ("cloud", "env", "shown"),
    [
        # AWS: what must exist outside the stack, and where budgets must send their notifications
        ("aws", {}, {"requirements": "Needed outside the stack", "budgets_topic": "Point each budget"}),
        # Azure: the steps after the deploy, and the changes not granted without named resource groups
        (
            "azure",
            {"ESCHER_AZURE__SUBSCRIPTION_ID": "00000000-0000-0000-0000-0000000000aa"},
            {
                "post_deploy": "After the deploy",
                "operations_not_granted": "Not granted (name [extend] resource_groups to grant them there)",
            },
        ),
    ],
)
def test_plan_text_shows_what_the_json_asks_of_the_user(
    cloud: str,
    env: dict[str, str],
    shown: dict[str, str],
    escher_home: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from escher.cli.main import app

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COLUMNS", "400")  # one item a line, unwrapped
    runner = CliRunner()
    as_json = runner.invoke(app, ["--output", "json", "extend", cloud, "--plan"])
    assert as_json.exit_code == 0, as_json.output
    outputs = json.loads(as_json.stdout)["outputs"]
    text = runner.invoke(app, ["extend", cloud, "--plan"])
    assert text.exit_code == 0, text.output
    for key, title in shown.items():
        value = outputs[key]
        assert value, key  # the plan has something to show for each
        assert title in text.stdout, key
        # compared without whitespace: COLUMNS may not reach a console an earlier test in this process made, and a
        # wrapped line breaks inside long paths
        flat = "".join(text.stdout.split())
        for item in [value] if isinstance(value, str) else value:
            assert "".join(item.split()) in flat, (key, item)
