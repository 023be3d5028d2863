"""The scripted demo: the real AWS worker entry point, on moto, with everything in a private temp dir.

1. start moto on 127.0.0.1; seed the estate; write a private config ("make public buckets private" on);
2. the nightly scan through the worker (``{"job": "daily_scan"}``): findings, and the estate enrichment reads;
3. john makes ``customer-data`` public and opens SSH to the world: CloudTrail events through EventBridge's
   shape into ``escher.workers.aws.handler.handler``, one delivered twice, plus one unreadable event;
4. read back from moto: the bucket blocked, the security group untouched pending approval; the audit objects
   verified; the alerts as banners.

5. the same for GCP: a Cloud Audit Log entry (allUsers granted on a GCS bucket) as a Pub/Sub CloudEvent into
   ``escher.workers.gcp.main.on_pubsub``, the fix on gcp-storage-emulator.

The user's own config, data and cloud credentials are never read or touched: the environment is replaced for the
duration and restored, the temp dir removed, moto stopped.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from escher.alerts.model import Alert

__all__ = ["DemoResult", "LambdaContext", "run_demo"]

STATE_BUCKET = "escher-state-demo"
GCS_BUCKET = "shop-exports"
DEAD_LETTER_QUEUE = "escher-dead-letters"
CONFIG = """\
# escher demo: a throw-away configuration in a temp dir
[aws]
regions = ["us-east-1"]

[remediation]
make_public_buckets_private = true

[notify.routes]
# email, SMS, Slack and PagerDuty need [notify.channels]; the demo shows the in-app banners
CRITICAL = ["banner"]
HIGH = ["banner"]
MEDIUM = ["banner"]
INFO = ["morning_report"]
"""
# Variables that could point the demo at a real account or the user's own files: removed for the run.
_HIDE = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
         "AWS_SHARED_CREDENTIALS_FILE", "ESCHER_DATABASE_URL", "ESCHER_STATE_URL", "ESCHER_DEAD_LETTER_URL")  # fmt: skip

Progress = Callable[[str], None]


@dataclass
class DemoResult:
    seconds: float = 0.0
    steps: list[dict[str, Any]] = field(default_factory=list)
    estate: dict[str, Any] = field(default_factory=dict)
    findings: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)
    bucket_block: dict[str, bool] = field(default_factory=dict)
    ssh_still_open: bool = False
    gcs_still_public: bool = True
    approval_request_id: str | None = None
    audit_records_verified: int = 0
    ledger: dict[str, Any] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    synced: dict[str, int] = field(default_factory=dict)  # --console: what the laptop pulled from the bucket
    console_url: str | None = None  # --console: the URL with its token

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "alerts"}
        data["alerts"] = [a.model_dump(mode="json") for a in self.alerts]
        return data


@contextmanager
def _scoped_env(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    for name in _HIDE:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class _Steps:
    def __init__(self, result: DemoResult, progress: Progress) -> None:
        self.result, self.progress = result, progress

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, Any]]:
        started = time.perf_counter()
        info: dict[str, Any] = {}
        yield info
        seconds = time.perf_counter() - started
        self.result.steps.append({"step": name, "seconds": round(seconds, 3), **info})
        detail = info.get("detail")
        self.progress(f"✓ {name} ({seconds:.1f} s)" + (f": {detail}" if detail else ""))


def run_demo(progress: Progress = print, *, then: Callable[[DemoResult], None] | None = None) -> DemoResult:
    """The scripted demo. ``then`` (``escher demo --console``) runs after it with the emulators still up, the
    laptop attached to the demo's state bucket (:func:`escher.demo.console.attach_laptop`) and the demo's
    environment still in place; everything is stopped and removed when it returns."""
    from escher.emulators import GcsStorageEmulator, MotoEmulator
    from escher.pipeline import runtime

    result = DemoResult()
    steps = _Steps(result, progress)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="escher-demo-") as tmp, ExitStack() as emulators:
        with steps.step("started moto (AWS) and gcp-storage-emulator (GCS) on 127.0.0.1") as info:
            moto = emulators.enter_context(MotoEmulator())  # each is stopped when the stack unwinds
            gcs = emulators.enter_context(GcsStorageEmulator())
            info["detail"] = f"{moto.endpoint_url}, {gcs.endpoint_url}"
        env = {
            **moto.env(),
            **gcs.env(),
            "GOOGLE_CLOUD_PROJECT": "shop-prod-4711",
            "ESCHER_CONFIG_DIR": str(Path(tmp) / "config"),
            "ESCHER_DATA_DIR": str(Path(tmp) / "data"),
            "ESCHER_STATE_URL": f"s3://{STATE_BUCKET}",
            "ESCHER_DEAD_LETTER_URL": f"sqs://{DEAD_LETTER_QUEUE}",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "EscherDemo",
        }
        with _scoped_env(env):
            runtime.reset()
            try:
                _scenario(steps, result, tmp)
                if then is not None:
                    result.seconds = round(time.perf_counter() - started, 2)
                    _attach(steps, result, tmp)
                    then(result)
            finally:
                runtime.reset()
    if then is None:
        result.seconds = round(time.perf_counter() - started, 2)
    return result


def _attach(steps: _Steps, result: DemoResult, tmp: str) -> None:
    from escher.demo.console import attach_laptop
    from escher.pipeline import runtime

    with steps.step("the laptop synced from the demo's state bucket, as after 'escher extend aws'") as info:
        result.synced = attach_laptop(f"s3://{STATE_BUCKET}", Path(tmp, "config", "config.toml"))
        runtime.reset()  # the worker's pipelines read the bucket as their state; the laptop reads its own
        info["detail"] = ", ".join(f"{n} {kind}" for kind, n in sorted(result.synced.items())) or "nothing"


def _scenario(steps: _Steps, result: DemoResult, tmp: str) -> None:
    from escher.alerts.store import AlertStore
    from escher.alerts.views import timeline
    from escher.audit.objects import ObjectAuditSink
    from escher.clouds import aws
    from escher.clouds.aws.state import S3Store
    from escher.demo.events import bucket_made_public, security_group_opened
    from escher.demo.seed import seed_aws
    from escher.pipeline.objects import StateObjects
    from escher.workers.aws.handler import handler

    context = LambdaContext()
    s3, ec2, sqs = aws.client("s3"), aws.client("ec2", "us-east-1"), aws.client("sqs", "us-east-1")
    with steps.step("seeded a realistic estate on moto") as info:
        Path(tmp, "config").mkdir()
        Path(tmp, "config", "config.toml").write_text(CONFIG, encoding="utf-8")
        sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)
        estate = seed_aws(s3, ec2, state_bucket=STATE_BUCKET)
        result.estate = estate.to_dict()
        info["detail"] = (
            f"PII bucket '{estate.pii_bucket}', {len(estate.instances)} instances, "
            f"{len(estate.volumes)} unencrypted volumes, {len(estate.snapshots)} snapshot, group {estate.ssh_group}"
        )
    with steps.step("nightly scan through the worker ({'job': 'daily_scan'})") as info:
        scan = handler({"job": "daily_scan"}, context)
        result.findings = int(scan.get("findings", 0))
        info["detail"] = f"{result.findings} findings; estate stored for enrichment"
    with steps.step(
        "john made 'customer-data' public: PutBucketAcl via EventBridge -> Lambda handler"
    ) as info:
        event = bucket_made_public(str(uuid.uuid4()), estate.pii_bucket)
        bucket = handler(event, context)
        result.outcomes["bucket_public"] = bucket["outcome"]
        result.outcomes["bucket_public_redelivered"] = handler(event, context)["outcome"]
        info["detail"] = (
            f"{bucket['severity']} -> {bucket['outcome']}; redelivery -> duplicate, nothing done twice"
        )
    with steps.step("john opened SSH to the world: AuthorizeSecurityGroupIngress -> Lambda handler") as info:
        ec2.authorize_security_group_ingress(
            GroupId=estate.ssh_group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        )
        sg = handler(security_group_opened(str(uuid.uuid4()), estate.ssh_group), context)
        result.outcomes["ssh_open"] = sg["outcome"]
        info["detail"] = f"{sg['severity']} -> {sg['outcome']} (not pre-approved)"
    with steps.step(
        "GCS bucket 'shop-exports' granted to allUsers: audit log -> Pub/Sub CloudEvent -> GCP worker"
    ) as info:
        result.outcomes["gcs_public"] = _gcp_leg(result)
        info["detail"] = f"{result.outcomes['gcs_public']}; allUsers still bound: {result.gcs_still_public}"
    with steps.step("an unreadable event arrived") as info:
        bad = handler({"version": "0", "id": "garbage-1", "detail-type": "AWS API Call via CloudTrail",
                       "source": "aws.s3", "account": "123456789012", "time": "2024-05-02T09:15:00Z",
                       "region": "us-east-1", "resources": [], "detail": {"eventSource": "s3.amazonaws.com"}},
                      context)  # fmt: skip
        result.outcomes["garbage"] = bad["outcome"]
        info["detail"] = f"{bad['outcome']} -> SQS {DEAD_LETTER_QUEUE}"
    with steps.step("read back from moto and verified the audit") as info:
        conf = s3.get_public_access_block(Bucket=estate.pii_bucket)["PublicAccessBlockConfiguration"]
        result.bucket_block = {k: bool(v) for k, v in conf.items()}
        perms = ec2.describe_security_groups(GroupIds=[estate.ssh_group])["SecurityGroups"][0][
            "IpPermissions"
        ]
        result.ssh_still_open = any(
            r.get("CidrIp") == "0.0.0.0/0" for p in perms for r in p.get("IpRanges", [])
        )
        objects = StateObjects(S3Store(STATE_BUCKET, client=s3))
        audit = ObjectAuditSink(objects)
        result.audit_records_verified = audit.verify()
        url = sqs.get_queue_url(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        import json

        result.dead_letters = [json.loads(m["Body"]) for m in messages]
        result.alerts = AlertStore(objects).list()
        approval = next((a.approval_request_id for a in result.alerts if a.approval_request_id), None)
        result.approval_request_id = approval
        fixed = next((a for a in result.alerts if a.status == "auto_resolved"), None)
        if fixed is not None:
            result.timeline = [e.to_dict() for e in timeline(fixed, audit.records(fixed.correlation_id))]
        info["detail"] = (
            f"bucket blocked: {all(result.bucket_block.values())}; SSH still open: {result.ssh_still_open}; "
            f"{result.audit_records_verified} audit objects match their hashes"
        )
    with steps.step("synced the audit into the laptop's store and verified its hash chain") as info:
        result.ledger = _ledger(audit.records())
        info["detail"] = result.ledger.get("detail", "")


def _gcp_leg(result: DemoResult) -> str:
    """The GCP worker's entry point, called as functions-framework calls it (a CloudEvent object)."""
    from escher.clouds import gcp
    from escher.demo.events import gcs_bucket_made_public
    from escher.lazy import require
    from escher.pipeline.runtime import build_pipeline
    from escher.workers.gcp.main import on_pubsub

    cloudevents = require("cloudevents.http", "workers")
    client = gcp.storage_client()
    bucket = client.create_bucket(GCS_BUCKET)
    policy = bucket.get_iam_policy(requested_policy_version=3)
    policy.bindings.append({"role": "roles/storage.objectViewer", "members": {"allUsers"}})
    bucket.set_iam_policy(policy)
    event = gcs_bucket_made_public(str(uuid.uuid4().int)[:16], GCS_BUCKET)
    data = event.pop("data")
    on_pubsub(cloudevents.CloudEvent(event, data))
    members = {m for b in bucket.get_iam_policy(requested_policy_version=3).bindings for m in b["members"]}
    result.gcs_still_public = "allUsers" in members
    alerts = build_pipeline("gcp").alerts.list()
    return next((a.status for a in alerts if a.cloud == "gcp"), "missing")


def _ledger(records: list[Any]) -> dict[str, Any]:
    """What the laptop does with the bucket's audit objects: append them to the embedded store's hash-chained
    ledger (``escher.store``), then prove the chain (``escher audit verify``)."""
    from escher.errors import MissingExtraError

    try:
        from escher.store.store import Store

        with Store.open() as store:
            sink = store.audit_sink()
            for record in records:
                sink.append(record)
            report = store.verify()
    except MissingExtraError as exc:
        return {"ok": None, "detail": f"skipped: {exc}"}
    chained = sum(c.records for c in report.chains)
    return {
        "ok": report.ok,
        "records": chained,
        "detail": f"{chained} records chained, ledger {'verifies' if report.ok else 'does NOT verify'}",
    }


@dataclass
class LambdaContext:
    """What powertools reads from the Lambda context object (the demo and the tests call the handler with it)."""

    function_name: str = "escher-worker"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:escher-worker"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/escher-worker"
    log_stream_name: str = "demo"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000
