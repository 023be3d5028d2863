"""Deploying on AWS: what differs from the other clouds (:class:`escher.infra.deploy.CloudDeploy`).

The stack takes ``aws:region``; the extension watches every enabled region ([aws] regions, the deploy region
first). The worker zip has everything at its root (Lambda adds the root to ``sys.path``). State lives in the
S3 bucket the outputs name, other clouds' credentials in SSM parameters under ``credentials_path``. The user
schedules live in the stack's EventBridge Scheduler group, so they go with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from escher.infra.deploy import BundleLayout, CloudDeploy, Limit, UserSchedules, audit_location

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.infra.credentials import CredentialWriter
    from escher.infra.preflight import PreflightReport
    from escher.infra.spec import ExtensionSpec
    from escher.state import ObjectStore

__all__ = ["DEPLOY"]


def _regions(settings: Settings) -> Sequence[str]:
    return settings.aws.regions


def _stack_config(spec: ExtensionSpec) -> dict[str, str]:
    return {"aws:region": spec.region}


def _state_store(outputs: Mapping[str, Any]) -> ObjectStore:
    from escher.clouds import aws
    from escher.clouds.aws.state import S3Store

    region = str(outputs.get("region") or "") or None
    return S3Store(str(outputs["state_bucket"]), client=aws.client("s3", region))


def _credential_writer(outputs: Mapping[str, Any], prefix: str) -> CredentialWriter:
    from escher.infra.credentials import SsmWriter

    return SsmWriter(str(outputs["credentials_path"]), str(outputs.get("region") or "") or None)


def _preflight(spec: ExtensionSpec, clients: Mapping[str, Any]) -> PreflightReport:
    from escher.infra.preflight import check_aws

    return check_aws(spec, clients.get("clients"))


def _audit_location(outputs: Mapping[str, Any]) -> str:
    return audit_location(outputs, bucket_scheme="s3")


def _user_schedules(outputs: Mapping[str, Any], scheduler: Any) -> UserSchedules:
    # the stack owns the schedule group `escher schedule add` creates the escher-user-* schedules in; deleting
    # a group deletes every schedule in it
    return "the user schedules went with the stack's EventBridge Scheduler group", [], ""


DEPLOY = CloudDeploy(
    cloud="aws",
    default_region="us-east-1",
    # governance still stops the worker (denied s3:BypassGovernanceRetention)
    default_lock_mode="governance",
    regions=_regions,
    watches_regions=True,
    stack_config=_stack_config,
    bundle=BundleLayout(
        # above 50 MB zipped the AWS component uploads the zip to the state bucket (s3_bucket/s3_key) instead
        limit=Limit(
            None, 250, "Lambda: 250 MB unzipped (code + layers); over 50 MB zipped it goes through S3"
        ),
        runtime="aws-lambda-powertools",
    ),
    retained="the audit bucket (S3 Object Lock) is kept: locked objects cannot be deleted before their "
    "retention ends; delete it yourself afterwards",
    state_store=_state_store,
    credential_writer=_credential_writer,
    preflight=_preflight,
    audit_location=_audit_location,
    user_schedules=_user_schedules,
)
