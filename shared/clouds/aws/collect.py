"""AWS inventory: the only part of the AWS scan that calls AWS.

Regions and services run in parallel (one task per service and region); inside a task, independent calls (the
per-bucket S3 reads, EC2's separate ``Describe*`` lists) run concurrently up to the service's limit
(:data:`_CONCURRENCY`). Every list call asks for the largest page the API allows, and calls are paced per API and
region (EC2 ``Describe*``: 100 then 20/s). Given ``wants`` (what the chosen checks read, :func:`wants_of`), only
the tasks and the calls that feed them run: ``escher scan --checks aws.s3.bucket_public`` reads buckets' ACLs,
policies and access blocks, not their versioning or the account's instances. boto3 honours
``AWS_ENDPOINT_URL``, so the same code reads a moto server or a real account.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from escher.lazy import require
from escher.scans.collect.base import BucketSet, Produces, Progress, Task, produces, run_tasks
from escher.scans.model import CollectionError, Inventory, Record

if TYPE_CHECKING:
    from escher.scans.checks.base import Check

__all__ = ["PRODUCES", "AwsCollector", "Wants", "wants_of"]

T = TypeVar("T")

# (rate per second, burst) per API, per region; from the service quotas pages
_LIMITS: dict[str, tuple[float, float]] = {
    "ec2": (20.0, 100.0),
    "cloudwatch": (50.0, 50.0),
    "iam": (15.0, 15.0),
    "s3": (500.0, 1000.0),  # bucket-configuration reads; no published per-second quota, stay polite
    "rds": (10.0, 40.0),
}
# calls in flight at once within one task, per service: S3 answers thousands of reads per second, so 200 buckets'
# seven reads each are a few round trips, not 1,400; EC2's lists are few and paced by its token bucket anyway
_CONCURRENCY: dict[str, int] = {"s3": 32, "ec2": 8, "cloudwatch": 4}
_METRIC_QUERIES_PER_CALL = 500  # GetMetricData maximum
GLOBAL = "global"

# What each task yields (record type -> attrs); tests/functional/scans/test_aws_produces.py holds it to the records
# the tasks return on the moto estate. ``last_snapshot`` is linked after collection from the same task's snapshots.
PRODUCES: dict[str, Produces] = {
    "ec2": produces({
        "aws.ec2.instance": "state instance_type public_ip imdsv2_required launch_time state_since volumes "
                            "instance_profile cpu_days cpu_max_daily_7d cpu_days_30d cpu_avg_30d",
        "aws.ec2.volume": "encrypted size_gb state volume_type create_time attached_to last_snapshot",
        "aws.ec2.snapshot": "volume_id start_time size_gb encrypted",
        "aws.ec2.security_group": "ingress vpc_id",
        "aws.ec2.network_acl": "ingress vpc_id",
        "aws.ec2.vpc": "flow_logs is_default",
        "aws.ec2.eip": "associated public_ip",
        "aws.ec2.image": "public",
    }),
    "rds": produces({
        "aws.rds.instance": "engine instance_class status encrypted public backup_retention multi_az "
                            "deletion_protection auto_minor_upgrade allocated_gb last_snapshot",
        "aws.rds.snapshot": "db_instance_id start_time type encrypted",
    }),
    "dynamodb": produces({"aws.dynamodb.table": "pitr"}),
    "lambda": produces({"aws.lambda.function": "runtime"}),
    "kms": produces({"aws.kms.key": "manager state spec rotation"}),
    "logs": produces({"aws.logs.log_group": "retention_days stored_bytes"}),
    "sqs": produces({"aws.sqs.queue": "encrypted"}),
    "sns": produces({"aws.sns.topic": "kms_key"}),
    "efs": produces({"aws.efs.file_system": "encrypted kms_key"}),
    "region_settings": produces({
        "aws.ec2.region_settings": "ebs_default_encryption config_recording guardduty security_hub",
    }),
    "accessanalyzer": produces({"aws.accessanalyzer.region": "analyzers external_access_active"}),
    "s3": produces({
        "aws.s3.bucket": "public_access_block acl_public policy_public ssl_only encryption versioning logging",
    }),
    "iam": produces({
        "aws.iam.account": "root_mfa root_access_keys password_policy support_roles",
        "aws.iam.server_certificate": "expiration",
        "aws.iam.policy": "full_admin attachments",
        "aws.iam.user": "console_access mfa_devices access_keys admin inline_policies attached_policies",
        "aws.iam.role": "admin trust_public service_linked",
    }),
    "cloudtrail": produces({
        "aws.cloudtrail.trail": "multi_region logging log_file_validation kms_key cloudwatch_logs",
        "aws.cloudtrail.account": "multi_region_logging s3_object_reads_logged s3_object_writes_logged",
    }),
}  # fmt: skip


def _iso(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in items or []}


Wants = Mapping[str, frozenset[str]]
"""What to collect: record type -> the attributes wanted of it (ids, names and tags always come along)."""


def wants_of(checks: Iterable[Check]) -> dict[str, frozenset[str]]:
    """What ``checks`` read, as :data:`Wants`: each check's own record type and every ``type:attr`` it names.
    A daily scan (every check) wants every attribute; ``--checks aws.s3.bucket_public`` wants three."""
    out: dict[str, set[str]] = {}
    for chk in checks:
        out.setdefault(chk.resource_type, set())
        for type_, attr in chk.needs:
            out.setdefault(type_, set()).add(attr)
    return {type_: frozenset(attrs) for type_, attrs in out.items()}


class AwsCollector:
    def __init__(
        self,
        regions: list[str],
        *,
        services: list[str] | None = None,
        max_workers: int = 8,
        max_attempts: int = 5,
        metrics_days: int = 30,
        now: datetime | None = None,
        session: Any = None,  # a boto3 Session for another account (escher.clouds.aws.account_session)
        wants: Wants | None = None,  # None: everything (the daily scan); else only what these checks read
    ) -> None:
        self.regions = regions
        self.services = set(services) if services else None
        self._wants = wants
        self.max_workers = max_workers
        self.metrics_days = metrics_days
        self.now = now or datetime.now(UTC)
        from escher.clouds.aws import _session

        botocore_config = require("botocore.config", "aws")
        self._session = session or _session()  # on the process's one botocore loader
        self._config = botocore_config.Config(
            retries={"max_attempts": max_attempts, "mode": "adaptive"},
            max_pool_connections=max(max_workers * 4, *_CONCURRENCY.values()),
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.limit = BucketSet(_LIMITS, default=(20.0, 40.0))
        self.account = ""
        # failures of a part inside a task (one GetMetricData batch) that must not cost the task its records
        self.part_errors: list[CollectionError] = []

    # -- plumbing ------------------------------------------------------------------------------------------
    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:  # creating clients is not thread-safe in botocore
            if key not in self._clients:
                self._clients[key] = self._session.client(service, region_name=region, config=self._config)
            return self._clients[key]

    def call(self, service: str, region: str, op: str, **kwargs: Any) -> Any:
        self.limit(service, region).acquire()
        return getattr(self.client(service, region), op)(**kwargs)

    def pages(
        self, service: str, region: str, op: str, page_size: int | None, **kwargs: Any
    ) -> Iterator[Any]:
        paginator = self.client(service, region).get_paginator(op)
        config = {"PageSize": page_size} if page_size else {}
        bucket = self.limit(service, region)
        for page in paginator.paginate(PaginationConfig=config, **kwargs):
            bucket.acquire()
            yield page

    @property
    def chosen(self) -> bool:
        """Whether this collects for chosen checks only (``--checks``), not everything (the daily scan)."""
        return self._wants is not None

    def wants(self, type_: str, *attrs: str) -> bool:
        """Whether records of ``type_`` are wanted (with ``attrs``: whether any of those attributes is)."""
        if self._wants is None:
            return True
        if type_ not in self._wants:
            return False
        return not attrs or bool(self._wants[type_].intersection(attrs))

    def parallel(self, service: str, parts: Sequence[Callable[[], T]]) -> list[T]:
        """Run independent parts of a task at once, at most the service's concurrency (:data:`_CONCURRENCY`),
        results in order; the first failure is raised, as a sequential loop would."""
        limit = min(_CONCURRENCY.get(service, 4), len(parts))
        if limit <= 1:
            return [part() for part in parts]
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix=f"escher-{service}") as pool:
            return list(pool.map(lambda part: part(), parts))

    def record(self, type_: str, id_: str, region: str, **kw: Any) -> Record:
        return Record(cloud="aws", type=type_, id=id_, region=region, account=self.account, **kw)

    def _to_error(self, task: Task, exc: BaseException) -> CollectionError | None:
        return self.error_for(task.service, task.region, exc)

    def error_for(self, service: str, region: str, exc: BaseException) -> CollectionError | None:
        """The CollectionError for a botocore failure (with what to do); None for anything else (a bug,
        re-raised)."""
        from escher.clouds.aws import translate

        error = translate(exc)
        if error is None:
            return None
        botocore_exc = require("botocore.exceptions", "aws")
        if isinstance(exc, botocore_exc.ClientError):
            err = exc.response.get("Error", {})
            message = str(err.get("Message") or exc)
            return CollectionError("aws", service, region, message, err.get("Code", ""), error.hint or "")
        return CollectionError("aws", service, region, str(exc), type(exc).__name__, error.hint or "")

    # -- entry point ---------------------------------------------------------------------------------------
    def tasks(self) -> list[Task]:
        from escher.clouds.aws import collect_services as svc

        regional: dict[str, Callable[[AwsCollector, str], list[Record]]] = {
            "ec2": collect_ec2,
            "rds": svc.collect_rds,
            "dynamodb": svc.collect_dynamodb,
            "lambda": svc.collect_lambda,
            "kms": svc.collect_kms,
            "logs": svc.collect_logs,
            "sqs": svc.collect_sqs,
            "sns": svc.collect_sns,
            "efs": svc.collect_efs,
            "region_settings": svc.collect_region_settings,
            "accessanalyzer": svc.collect_access_analyzer,
        }
        global_: dict[str, Callable[[AwsCollector, str], list[Record]]] = {
            "s3": svc.collect_s3,
            "iam": svc.collect_iam,
            "cloudtrail": svc.collect_cloudtrail,
        }
        home = self.regions[0]
        out: list[Task] = []
        for name, fn in global_.items():
            if self._runs(name):
                out.append(Task("aws", name, GLOBAL, _bind(fn, self, home), PRODUCES[name]))
        for region in self.regions:
            for name, fn in regional.items():
                if self._runs(name):
                    out.append(Task("aws", name, region, _bind(fn, self, region), PRODUCES[name]))
        return out

    def _runs(self, task: str) -> bool:
        if self.services is not None and task not in self.services:
            return False
        return any(self.wants(type_) for type_ in PRODUCES[task])

    def collect(self, progress: Progress | None = None) -> Inventory:
        try:
            self.account = self.call("sts", self.regions[0], "get_caller_identity")["Account"]
        except require("botocore.exceptions", "aws").NoCredentialsError as exc:
            from escher.scans.errors import CloudAccessError

            raise CloudAccessError(
                "AWS credentials were not found", hint="run `aws configure` or set AWS_PROFILE, then retry"
            ) from exc
        inventory = run_tasks(
            self.tasks(), to_error=self._to_error, max_workers=self.max_workers, progress=progress
        )
        inventory.errors.extend(self.part_errors)
        if self.wants("aws.ec2.volume", "last_snapshot") or self.wants("aws.rds.instance", "last_snapshot"):
            link_backups(inventory.records)
        return inventory


def _bind(
    fn: Callable[[AwsCollector, str], list[Record]], c: AwsCollector, region: str
) -> Callable[[], list[Record]]:
    return lambda: fn(c, region)


def link_backups(records: list[Record]) -> None:
    """Give each volume / DB instance the time of its latest snapshot (the backup-age checks read it)."""
    latest: dict[tuple[str, str], str] = {}
    for rec in records:
        if rec.type in ("aws.ec2.snapshot", "aws.rds.snapshot"):
            src = str(rec.attrs.get("volume_id") or rec.attrs.get("db_instance_id") or "")
            stamp = str(rec.attrs.get("start_time") or "")
            key = (rec.type, src)
            if src and stamp > latest.get(key, ""):
                latest[key] = stamp
    for rec in records:
        if rec.type == "aws.ec2.volume":
            rec.attrs["last_snapshot"] = latest.get(("aws.ec2.snapshot", rec.id))
        elif rec.type == "aws.rds.instance":
            rec.attrs["last_snapshot"] = latest.get(("aws.rds.snapshot", rec.id))


# -- EC2 ---------------------------------------------------------------------------------------------------
_STATE_SINCE = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) GMT\)")


_CPU = ("cpu_days", "cpu_max_daily_7d", "cpu_days_30d", "cpu_avg_30d")


def collect_ec2(c: AwsCollector, region: str) -> list[Record]:
    """EC2's lists are independent of each other: each wanted one runs at once (``--checks
    aws.ec2.volume_encrypted`` makes one DescribeVolumes call, not ten calls and a CloudWatch query)."""
    parts: list[tuple[bool, Callable[[AwsCollector, str], list[Record]]]] = [
        (c.wants("aws.ec2.instance"), _instances),
        (c.wants("aws.ec2.volume"), _volumes),
        (c.wants("aws.ec2.snapshot") or c.wants("aws.ec2.volume", "last_snapshot"), _snapshots),
        (c.wants("aws.ec2.security_group"), _security_groups),
        (c.wants("aws.ec2.network_acl"), _network_acls),
        (c.wants("aws.ec2.vpc"), _vpcs),
        (c.wants("aws.ec2.eip"), _addresses),
        (c.wants("aws.ec2.image"), _images),
    ]
    chosen = [_bind(fn, c, region) for wanted, fn in parts if wanted]
    return [rec for records in c.parallel("ec2", chosen) for rec in records]


def _instances(c: AwsCollector, region: str) -> list[Record]:
    out: list[Record] = []
    running: list[Record] = []
    for page in c.pages("ec2", region, "describe_instances", 1000):
        for res in page.get("Reservations", []):
            for inst in res.get("Instances", []):
                state = inst.get("State", {}).get("Name", "")
                since = _STATE_SINCE.search(inst.get("StateTransitionReason") or "")
                tags = _tags(inst.get("Tags"))
                rec = c.record(
                    "aws.ec2.instance",
                    inst["InstanceId"],
                    region,
                    name=tags.get("Name", ""),
                    tags=tags,
                    attrs={
                        "state": state,
                        "instance_type": inst.get("InstanceType"),
                        "public_ip": inst.get("PublicIpAddress"),
                        "imdsv2_required": inst.get("MetadataOptions", {}).get("HttpTokens") == "required",
                        "launch_time": _iso(inst.get("LaunchTime")),
                        "state_since": since.group(1).replace(" ", "T") + "+00:00" if since else None,
                        "volumes": [
                            m["Ebs"]["VolumeId"] for m in inst.get("BlockDeviceMappings", []) if "Ebs" in m
                        ],
                        "instance_profile": inst.get("IamInstanceProfile", {}).get("Arn"),
                    },
                )
                out.append(rec)
                if state == "running":
                    running.append(rec)
    if c.wants("aws.ec2.instance", *_CPU):
        add_cpu_metrics(c, region, running)
    return out


def _volumes(c: AwsCollector, region: str) -> list[Record]:
    out: list[Record] = []
    for page in c.pages("ec2", region, "describe_volumes", 500):
        for vol in page.get("Volumes", []):
            tags = _tags(vol.get("Tags"))
            out.append(
                c.record(
                    "aws.ec2.volume",
                    vol["VolumeId"],
                    region,
                    name=tags.get("Name", ""),
                    tags=tags,
                    attrs={
                        "encrypted": bool(vol.get("Encrypted")),
                        "size_gb": vol.get("Size"),
                        "state": vol.get("State"),
                        "volume_type": vol.get("VolumeType"),
                        "create_time": _iso(vol.get("CreateTime")),
                        "attached_to": [a.get("InstanceId") for a in vol.get("Attachments", [])],
                    },
                )
            )
    return out


def _snapshots(c: AwsCollector, region: str) -> list[Record]:
    out: list[Record] = []
    for page in c.pages("ec2", region, "describe_snapshots", 1000, OwnerIds=["self"]):
        for snap in page.get("Snapshots", []):
            if snap.get("OwnerId") != c.account:  # moto ignores OwnerIds=self and adds public snapshots
                continue
            out.append(
                c.record(
                    "aws.ec2.snapshot",
                    snap["SnapshotId"],
                    region,
                    tags=_tags(snap.get("Tags")),
                    attrs={
                        "volume_id": snap.get("VolumeId"),
                        "start_time": _iso(snap.get("StartTime")),
                        "size_gb": snap.get("VolumeSize"),
                        "encrypted": bool(snap.get("Encrypted")),
                    },
                )
            )
    return out


def _security_groups(c: AwsCollector, region: str) -> list[Record]:
    out: list[Record] = []
    for page in c.pages("ec2", region, "describe_security_groups", 1000):
        for sg in page.get("SecurityGroups", []):
            ingress = [
                {
                    "protocol": str(p.get("IpProtocol")),
                    "from_port": p.get("FromPort", 0),
                    "to_port": p.get("ToPort", 65535),
                    "cidrs": [r["CidrIp"] for r in p.get("IpRanges", [])]
                    + [r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])],
                    "groups": [g.get("GroupId") for g in p.get("UserIdGroupPairs", [])],
                }
                for p in sg.get("IpPermissions", [])
            ]
            out.append(
                c.record(
                    "aws.ec2.security_group",
                    sg["GroupId"],
                    region,
                    name=sg.get("GroupName", ""),
                    tags=_tags(sg.get("Tags")),
                    attrs={"ingress": ingress, "vpc_id": sg.get("VpcId")},
                )
            )
    return out


def _network_acls(c: AwsCollector, region: str) -> list[Record]:
    out: list[Record] = []
    for page in c.pages("ec2", region, "describe_network_acls", 1000):
        for acl in page.get("NetworkAcls", []):
            rules = [
                {
                    "rule": e.get("RuleNumber"),
                    "action": e.get("RuleAction"),
                    "protocol": str(e.get("Protocol")),
                    "cidr": e.get("CidrBlock") or e.get("Ipv6CidrBlock"),
                    "from_port": e.get("PortRange", {}).get("From", 0),
                    "to_port": e.get("PortRange", {}).get("To", 65535),
                }
                for e in acl.get("Entries", [])
                if not e.get("Egress")
            ]
            out.append(
                c.record(
                    "aws.ec2.network_acl",
                    acl["NetworkAclId"],
                    region,
                    tags=_tags(acl.get("Tags")),
                    attrs={
                        "ingress": sorted(rules, key=lambda r: r["rule"] or 0),
                        "vpc_id": acl.get("VpcId"),
                    },
                )
            )
    return out


def _vpcs(c: AwsCollector, region: str) -> list[Record]:
    out: list[Record] = []
    flow_logged = {
        fl.get("ResourceId")
        for page in c.pages("ec2", region, "describe_flow_logs", 1000)
        for fl in page.get("FlowLogs", [])
    }
    for page in c.pages("ec2", region, "describe_vpcs", 1000):
        for vpc in page.get("Vpcs", []):
            out.append(
                c.record(
                    "aws.ec2.vpc",
                    vpc["VpcId"],
                    region,
                    tags=_tags(vpc.get("Tags")),
                    attrs={
                        "flow_logs": vpc["VpcId"] in flow_logged,
                        "is_default": bool(vpc.get("IsDefault")),
                    },
                )
            )
    return out


def _addresses(c: AwsCollector, region: str) -> list[Record]:
    out: list[Record] = []
    for addr in c.call("ec2", region, "describe_addresses").get("Addresses", []):
        out.append(
            c.record(
                "aws.ec2.eip",
                addr.get("AllocationId") or addr.get("PublicIp", ""),
                region,
                tags=_tags(addr.get("Tags")),
                attrs={"associated": bool(addr.get("AssociationId")), "public_ip": addr.get("PublicIp")},
            )
        )
    return out


def _images(c: AwsCollector, region: str) -> list[Record]:
    out: list[Record] = []
    for page in c.pages("ec2", region, "describe_images", 1000, Owners=["self"]):
        for img in page.get("Images", []):
            out.append(
                c.record(
                    "aws.ec2.image",
                    img["ImageId"],
                    region,
                    name=img.get("Name", ""),
                    tags=_tags(img.get("Tags")),
                    attrs={"public": bool(img.get("Public"))},
                )
            )
    return out


def add_cpu_metrics(c: AwsCollector, region: str, instances: list[Record]) -> None:
    """Daily CPU averages over ``metrics_days`` for each running instance, 500 instances per GetMetricData.

    A batch that fails (throttled, timed out) leaves its instances without CPU attributes, so the idle and
    over-provisioned checks give no verdict on them, and is reported as CloudWatch not read in the region. It
    used to fail the whole EC2 task: one slow GetMetricData call (moto takes ~27 s per 500-instance call at
    2,000 instances, past botocore's 60 s read timeout on a loaded machine) lost every instance, volume and
    security group of the region.
    """
    if not instances:
        return
    botocore_exc = require("botocore.exceptions", "aws")
    end = c.now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=c.metrics_days)
    # daily periods are stamped with their start; the last 7 of them, none older than 8 days, are "the week"
    recent = end - timedelta(days=8)
    for i in range(0, len(instances), _METRIC_QUERIES_PER_CALL):
        batch = instances[i : i + _METRIC_QUERIES_PER_CALL]
        queries = [
            {
                "Id": f"i{n}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/EC2",
                        "MetricName": "CPUUtilization",
                        "Dimensions": [{"Name": "InstanceId", "Value": rec.id}],
                    },
                    "Period": 86400,
                    "Stat": "Average",
                },
                "ReturnData": True,
            }
            for n, rec in enumerate(batch)
        ]
        series: dict[str, list[tuple[datetime, float]]] = {}
        try:
            for page in c.pages(
                "cloudwatch",
                region,
                "get_metric_data",
                None,
                MetricDataQueries=queries,
                StartTime=start,
                EndTime=end,
            ):
                for result in page.get("MetricDataResults", []):
                    pts = list(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
                    series.setdefault(result["Id"], []).extend(pts)
        except (botocore_exc.ClientError, botocore_exc.BotoCoreError) as exc:
            error = c.error_for("cloudwatch", region, exc)
            assert error is not None  # a botocore error always maps
            c.part_errors.append(
                CollectionError(
                    error.cloud,
                    error.service,
                    error.region,
                    f"CPU of {len(batch)} instances not read: {error.message}",
                    error.code,
                )
            )
            continue
        for n, rec in enumerate(batch):
            pts = sorted(series.get(f"i{n}", []), key=lambda p: p[0])
            last7 = [v for t, v in pts[-7:] if (t if t.tzinfo else t.replace(tzinfo=UTC)) >= recent]
            rec.attrs["cpu_days"] = len(last7)
            rec.attrs["cpu_max_daily_7d"] = round(max(last7), 2) if last7 else None
            rec.attrs["cpu_days_30d"] = len(pts)
            rec.attrs["cpu_avg_30d"] = round(sum(v for _, v in pts) / len(pts), 2) if pts else None
