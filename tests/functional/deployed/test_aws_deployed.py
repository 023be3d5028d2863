"""The AWS worker as deployed: the built bundle, unpacked, run in a clean interpreter with the environment the
Pulumi program declares, against moto; the settings are the ones the laptop published with the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from escher.emulators import MotoEmulator
from tests.functional.deployed.harness import Unpacked, run_worker, unpacked_bundle
from tests.functional.pipeline.servers import WebhookReceiver

pytest.importorskip("pulumi")

REGION = "us-east-1"
HOOK_TOKEN = "T0KEN-only-in-ssm"
OPERATIONS = ("aws.scan.daily_inventory", "aws.s3.block_public_access")
LAPTOP_CONFIG = f"""
[aws]
regions = ["{REGION}"]

[notify.routes]
CRITICAL = ["banner"]
HIGH = ["banner"]
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    return unpacked_bundle("aws", tmp_path_factory.mktemp("aws-bundle"))


class Deployment:
    """What 'escher extend aws' leaves: the program's resources made real on moto, outputs kept locally."""

    def __init__(self, moto: MotoEmulator, home: Path, bundle: Unpacked) -> None:
        from escher.config import resolve_paths
        from escher.infra.driver import LocalState, save_outputs
        from tests.functional.infra.conftest import make_spec, run_under_mocks

        spec = make_spec("aws", str(bundle.bundle.path), operations=OPERATIONS, region=REGION)
        self.deployed = run_under_mocks(spec)
        [function] = [r for r in self.deployed.of_type("aws:lambda/function:Function") if r.name == "worker"]
        self.env = dict(function.inputs["environment"]["variables"])
        [schedule] = self.deployed.of_type("aws:scheduler/schedule:Schedule")
        self.schedule_input = json.loads(schedule.inputs["target"]["input"])
        self.s3 = boto3.client("s3", region_name=REGION)
        self.s3.create_bucket(Bucket=self.env["ESCHER_STATE_BUCKET"])
        self.s3.create_bucket(Bucket=self.env["ESCHER_AUDIT_BUCKET"], ObjectLockEnabledForBucket=True)
        boto3.client("sqs", region_name=REGION).create_queue(
            QueueName=self.env["ESCHER_DEAD_LETTER_URL"].removeprefix("sqs://")
        )
        self.moto = moto
        self.bundle_run = bundle
        # the laptop: its config, the stack's outputs, thin-client mode
        self.paths = resolve_paths()
        self.paths.config_dir.mkdir(parents=True, exist_ok=True)
        self.paths.config_file.write_text(LAPTOP_CONFIG, encoding="utf-8")
        save_outputs(self.paths, "aws", self.deployed.outputs)
        local = LocalState.load(self.paths)
        local.clouds["aws"] = {"mode": "thin-client"}
        local.save()

    def platform_env(self) -> dict[str, str]:
        """The generated variables, plus what Lambda itself sets and moto standing in for AWS's endpoints."""
        return {
            **self.env,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_LAMBDA_FUNCTION_NAME": "escher-worker",
            "AWS_ENDPOINT_URL": self.moto.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def cli(self, *args: str) -> str:
        from escher.cli.main import app

        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    def keys(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.env["ESCHER_STATE_BUCKET"], Prefix=prefix)
        return [o["Key"] for o in listing.get("Contents", [])]

    def read(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.env["ESCHER_STATE_BUCKET"], Key=key)["Body"].read())


@pytest.fixture
def deployment(aws_env: MotoEmulator, escher_home: Path, bundle: Unpacked) -> Iterator[Deployment]:
    yield Deployment(aws_env, escher_home, bundle)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def public_bucket(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")


def test_the_scheduler_payload_runs_the_daily_job_and_the_laptop_switch_fixes_the_event(
    deployment: Deployment, tmp_path: Path, webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.demo.events import bucket_made_public

    # GIVEN a webhook channel whose URL (its token) is only in the laptop's environment, and the switch turned
    # on on the laptop while extended: the CLI publishes the settings, the URL goes to SSM
    hook_url = f"json://127.0.0.1:{webhook.port}/hooks/{HOOK_TOKEN}"
    monkeypatch.setenv("ESCHER_TEST_HOOK_URL", hook_url)
    with deployment.paths.config_file.open("a", encoding="utf-8") as fh:
        fh.write('\n[notify.channels.hook]\nurl_env = "ESCHER_TEST_HOOK_URL"\n')
    deployment.cli("remediation", "enable", "make_public_buckets_private")
    settings = deployment.read("settings/effective.json")
    assert settings["content"]["config"]["extensions"]["remediation"]["make_public_buckets_private"] is True
    assert HOOK_TOKEN not in json.dumps(settings) and settings["content"]["secrets"] == ["notify-hook"]
    assert "ESCHER_TEST_HOOK_URL" not in deployment.platform_env()
    public_bucket(deployment.s3, "shop-exports")
    deployment.moto.set_cost_and_usage([])  # Cost Explorer answers, with no spend yet
    # WHEN EventBridge Scheduler's own payload, then CloudTrail's PutBucketAcl, reach the unpacked worker
    event = bucket_made_public("deployed-evt-1", "shop-exports", region=REGION)
    run = run_worker(
        deployment.bundle_run, deployment.platform_env(), [deployment.schedule_input, event], tmp_path
    )
    daily, fixed = run.results
    # THEN the daily job wrote scan, cost, report, digest and retention to the state bucket
    assert "ok" in daily, daily
    assert daily["ok"]["job"] == "daily_scan" and daily["ok"]["failed"] == [], daily
    assert deployment.keys("reports/scan/") and deployment.keys("reports/report/")
    assert [k for k in deployment.keys("reports/cost/") if k.startswith("reports/cost/aws-")]
    day = daily["ok"]["day"]
    assert deployment.read(f"reports/daily/{day}.json")["parts"]["scan"]["settings_version"] == 1
    assert deployment.keys(f"reports/digest/{day}.json") and deployment.keys(f"reports/retention/{day}.json")
    # the digest reached the channel through the URL the worker read from SSM
    [digest] = [r for r in webhook.received if r.path == f"/hooks/{HOOK_TOKEN}"]
    assert "Escher morning report (aws)" in digest.body["title"]
    assert daily["ok"]["parts"]["digest"]["deliveries"][0]["ok"] is True
    # the bucket the scan found public is in the scan, the region scanned is the laptop's
    scan = deployment.read(deployment.keys("reports/scan/")[-1])
    assert any(r["id"] == "shop-exports" for r in scan["inventory"]["records"])
    # and the event was fixed, because the switch set on the laptop reached the worker
    assert fixed["ok"]["outcome"] == "auto_resolved", fixed
    block = deployment.s3.get_public_access_block(Bucket="shop-exports")["PublicAccessBlockConfiguration"]
    assert all(block.values())
    # the worker ran from the bundle alone
    assert run.escher_file.startswith(str(deployment.bundle_run.root)) and run.outside == []


def test_with_the_switch_off_on_the_laptop_the_event_is_held_for_approval(
    deployment: Deployment, tmp_path: Path
) -> None:
    from escher.demo.events import bucket_made_public

    deployment.cli("extend", "sync-settings")
    public_bucket(deployment.s3, "shop-exports")
    event = bucket_made_public("deployed-evt-2", "shop-exports", region=REGION)
    run = run_worker(deployment.bundle_run, deployment.platform_env(), [event], tmp_path)
    [held] = run.results
    assert held["ok"]["outcome"] == "needs_approval", held
    with pytest.raises(deployment.s3.exceptions.ClientError):
        deployment.s3.get_public_access_block(Bucket="shop-exports")
