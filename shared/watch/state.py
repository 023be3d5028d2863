"""The fast critical-state check: where no activity API can be read, look at what matters most and diff it.

Four things, each one or two list calls per region (about a second on a small account): buckets readable by
anyone (ACL grant or policy status, unless Block Public Access is fully on), security groups that open an admin
port (22, 3389) or everything to the world, access keys on the root user, CloudTrail trails that stopped logging.
Each finding has a key and a fingerprint of its evidence; a finding that is new (or whose evidence changed) since
the last check becomes the *same* event the activity path would raise (``storage_bucket_public``,
``security_group_open_to_world``, ``compliance_finding``), handed to the same pipeline.

The event id is fixed when the finding is first seen and kept in the state object until the pipeline has handled
it: a crash in between re-raises the same id next round, and the pipeline's markers do nothing twice. A finding
that goes away is forgotten; if it comes back, it is a new incident with a new id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from escher.events.model import UnifiedEvent

if TYPE_CHECKING:
    from escher.ops import CloudContext
    from escher.pipeline.objects import PipelineObjects

__all__ = ["AwsCriticalState", "Finding", "StateDiff", "finding_event", "root_key_use"]

_PUBLIC = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
_WORLD = ("0.0.0.0/0", "::/0")
ADMIN_PORTS = (22, 3389)


@dataclass(frozen=True)
class Finding:
    key: str  # what it is about: "s3:public:<bucket>"
    event_type: str
    resource_type: str
    resource_id: str
    name: str
    region: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.evidence, sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ]


@dataclass
class AwsCriticalState:
    cloud_ctx: CloudContext
    regions: list[str]

    def findings(self) -> Iterator[Finding]:
        from escher.clouds import aws

        s3 = self.cloud_ctx.aws("s3", self.regions[0] if self.regions else None)
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            evidence = self._bucket_public(s3, name, aws.errors())
            if evidence:
                yield Finding(
                    f"s3:public:{name}",
                    "storage_bucket_public",
                    "AWS::S3::Bucket",
                    f"arn:aws:s3:::{name}",
                    name,
                    bucket.get("BucketRegion") or (self.regions[0] if self.regions else "us-east-1"),
                    {"public": True, "evidence": evidence},
                )
        iam = self.cloud_ctx.aws("iam")
        used = self._root_key_use(iam, aws.errors())
        if used:
            yield Finding(
                "iam:root_key_used", "compliance_finding", "AWS::IAM::Root", "root", "root", "global",
                {"check": "root_key_used", "evidence": used},
            )  # fmt: skip
        summary = iam.get_account_summary().get("SummaryMap", {})
        if summary.get("AccountAccessKeysPresent"):
            yield Finding(
                "iam:root_access_keys",
                "compliance_finding",
                "AWS::IAM::Root",
                "root",
                "root",
                "global",
                {"check": "root_access_keys", "evidence": ["the root user has access keys"]},
            )
        for region in self.regions:
            yield from self._open_admin_ports(region)
            yield from self._stopped_trails(region, aws.errors())

    @staticmethod
    def _root_key_use(iam: Any, errors: tuple[type[BaseException], ...]) -> list[str]:
        """From the IAM credential report (asked for here, read on a later round once it is ready)."""
        try:
            if iam.generate_credential_report().get("State") != "COMPLETE":
                return []
            content = iam.get_credential_report()["Content"]
        except errors:
            return []  # no permission or not ready: the access-key check below still runs
        return root_key_use(content.decode() if isinstance(content, bytes) else str(content))

    @staticmethod
    def _bucket_public(s3: Any, name: str, errors: tuple[type[BaseException], ...]) -> list[str]:
        try:
            block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
            if all(
                block.get(k)
                for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            ):
                return []
        except errors:
            pass  # no configuration: nothing blocks
        evidence = [
            f"{g.get('Permission')} granted to {g['Grantee']['URI'].rsplit('/', 1)[-1]}"
            for g in s3.get_bucket_acl(Bucket=name).get("Grants", [])
            if g.get("Grantee", {}).get("URI") in _PUBLIC
        ]
        try:
            if s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"].get("IsPublic"):
                evidence.append("bucket policy is public")
        except errors:
            pass  # no policy
        return sorted(evidence)

    def _open_admin_ports(self, region: str) -> Iterator[Finding]:
        ec2 = self.cloud_ctx.aws("ec2", region)
        for page in ec2.get_paginator("describe_security_groups").paginate():
            for group in page.get("SecurityGroups", []):
                open_ports = sorted(
                    {
                        port
                        for perm in group.get("IpPermissions", [])
                        if _to_world(perm)
                        for port in _admin_ports(perm)
                    }
                )
                if open_ports:
                    yield Finding(
                        f"ec2:open_admin:{group['GroupId']}",
                        "security_group_open_to_world",
                        "AWS::EC2::SecurityGroup",
                        group["GroupId"],
                        group["GroupId"],
                        region,
                        {"open_ports": open_ports, "group_name": group.get("GroupName", "")},
                    )

    def _stopped_trails(self, region: str, errors: tuple[type[BaseException], ...]) -> Iterator[Finding]:
        trail = self.cloud_ctx.aws("cloudtrail", region)
        for t in trail.describe_trails(includeShadowTrails=False).get("trailList", []):
            try:
                logging = trail.get_trail_status(Name=t["TrailARN"]).get("IsLogging")
            except errors:
                continue
            if not logging:
                yield Finding(
                    f"cloudtrail:stopped:{t['TrailARN']}",
                    "compliance_finding",
                    "AWS::CloudTrail::Trail",
                    t["TrailARN"],
                    t.get("Name", ""),
                    region,
                    {"check": "logging_disabled", "evidence": ["the trail is not logging"]},
                )


def root_key_use(report_csv: str) -> list[str]:
    """When and for what the root user's access keys were last used, from a credential report (CSV)."""
    import csv
    import io

    used: list[str] = []
    for row in csv.DictReader(io.StringIO(report_csv)):
        if row.get("user") != "<root_account>":
            continue
        for n in ("1", "2"):
            when = row.get(f"access_key_{n}_last_used_date", "N/A")
            if when and when not in ("N/A", "no_information"):
                service = row.get(f"access_key_{n}_last_used_service", "")
                used.append(
                    f"root access key {n} used {when}"
                    + (f" ({service})" if service not in ("", "N/A") else "")
                )
    return used


def _to_world(perm: dict[str, Any]) -> bool:
    return any(r.get("CidrIp") in _WORLD for r in perm.get("IpRanges", [])) or any(
        r.get("CidrIpv6") in _WORLD for r in perm.get("Ipv6Ranges", [])
    )


def _admin_ports(perm: dict[str, Any]) -> list[int]:
    if perm.get("IpProtocol") == "-1":
        return list(ADMIN_PORTS)
    low, high = perm.get("FromPort", 0), perm.get("ToPort", 65535)
    return [p for p in ADMIN_PORTS if low <= p <= high]


@dataclass
class StateDiff:
    """The last check's findings in the state storage, and what is new since."""

    objects: PipelineObjects
    scope: str  # "aws:<account>"

    @property
    def _key(self) -> str:
        return f"watch/state/{self.scope.replace(':', '_')}.json"

    def load(self) -> dict[str, dict[str, Any]]:
        found = self.objects.get(self._key)
        return {} if found is None else dict(json.loads(found.data))

    def save(self, state: dict[str, dict[str, Any]]) -> None:
        self.objects.put(self._key, json.dumps(state, sort_keys=True).encode())

    def diff(self, findings: list[Finding], now: datetime) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """The next state and the keys to raise (new, changed, or raised before but never handled)."""
        last = self.load()
        state: dict[str, dict[str, Any]] = {}
        raise_keys: list[str] = []
        for f in findings:
            seen = last.get(f.key)
            if seen is not None and seen["fingerprint"] == f.fingerprint:
                state[f.key] = seen
                if not seen.get("handled"):
                    raise_keys.append(f.key)
                continue
            event_id = f"watch:{self.scope}:{f.key}:{now.strftime('%Y%m%dT%H%M%SZ')}"
            state[f.key] = {
                "fingerprint": f.fingerprint,
                "event_id": event_id,
                "since": now.isoformat(),
                "handled": False,
            }
            raise_keys.append(f.key)
        return state, raise_keys


def finding_event(f: Finding, event_id: str, account: str, when: datetime) -> UnifiedEvent:
    """The event the activity path would raise for this finding."""
    from escher.events._base import resource_kind

    return UnifiedEvent.model_validate(
        {
            "event_id": event_id,
            "event_type": f.event_type,
            "severity": "HIGH",
            "cloud_provider": "aws",
            "account_id": account,
            "region": f.region,
            "resource": {
                "type": f.resource_type,
                "id": f.resource_id,
                "name": f.name,
                "tags": {},
                "metadata": {
                    **f.evidence,
                    "source": "escher watch state check",
                    "resource_kind": resource_kind(f.resource_type),
                },
            },
            "timestamp": when,
            "raw_event": {"check": f.key, "evidence": f.evidence, "observed_at": when.isoformat()},
        }
    )
