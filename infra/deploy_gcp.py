"""Deploying on Google Cloud: what differs from the other clouds (:class:`escher.infra.deploy.CloudDeploy`).

The stack takes ``gcp:region`` and ``gcp:project`` (the spec needs [gcp] project). The source zip carries
``main.py`` and ``requirements.txt``: Cloud Build installs the dependencies itself, so they are not vendored.
State lives in the GCS bucket the outputs name, other clouds' credentials in Secret Manager. The laptop made a
Cloud Scheduler job per user schedule, which the stack does not own: destroy removes them first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from escher.infra.deploy import BundleLayout, CloudDeploy, Limit, PlanShape, UserSchedules, audit_location
from escher.infra.program import InfraError

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.infra.credentials import CredentialWriter
    from escher.infra.preflight import PreflightReport
    from escher.infra.spec import ExtensionSpec, WorkerEntryPoints
    from escher.state import ObjectStore

__all__ = ["DEPLOY"]


def _regions(settings: Settings) -> Sequence[str]:
    return settings.gcp.regions


def _require_settings(settings: Settings) -> None:
    if not settings.gcp.project:
        raise InfraError(
            "the GCP extension needs a project id",
            hint="set [gcp] project in config.toml or ESCHER_GCP__PROJECT",
        )


def _stack_config(spec: ExtensionSpec) -> dict[str, str]:
    config = {"gcp:region": spec.region}
    if spec.gcp_project:
        config["gcp:project"] = spec.gcp_project
    return config


def _shims(requirements: list[str], entry: WorkerEntryPoints) -> dict[str, bytes]:
    return {
        "main.py": f"from {entry.gcp_module} import *  # noqa: F403\n".encode(),
        "requirements.txt": ("\n".join(requirements) + "\n").encode(),
    }


def _state_store(outputs: Mapping[str, Any]) -> ObjectStore:
    from escher.clouds.gcp.state import GcsStore

    return GcsStore(str(outputs["state_bucket"]))


def _credential_writer(outputs: Mapping[str, Any], prefix: str) -> CredentialWriter:
    from escher.infra.credentials import SecretManagerWriter

    return SecretManagerWriter(str(outputs["project"]), prefix)


def _preflight(spec: ExtensionSpec, clients: Mapping[str, Any]) -> PreflightReport:
    from escher.infra.preflight import check_gcp

    return check_gcp(spec, clients.get("session"))


def _user_schedules(outputs: Mapping[str, Any], scheduler: Any) -> UserSchedules:
    """Delete every ``escher-user-*`` Cloud Scheduler job in the stack's location
    (:func:`escher.clouds.gcp.schedules.remove_user_jobs`); ``scheduler``: its client (tests replay there)."""
    if not outputs:
        return "", [], ""
    from escher.clouds.gcp.schedules import remove_user_jobs

    cleanup = remove_user_jobs(outputs, scheduler)
    said = f"{len(cleanup.removed)} user schedule job(s) removed from Cloud Scheduler"
    if cleanup.error:
        said += f"; NOT all removed: {cleanup.error}"
    return said, cleanup.removed, cleanup.error


def _mock_outputs(typ: str, name: str, inputs: Mapping[str, Any], outputs: dict[str, Any]) -> None:
    if typ.startswith("gcp:serviceaccount/account:Account"):
        outputs.setdefault("email", f"{inputs.get('accountId', name)}@project-mock.iam.gserviceaccount.com")
        outputs.setdefault("member", f"serviceAccount:{outputs['email']}")
    if typ == "gcp:logging/projectSink:ProjectSink":
        outputs.setdefault("writerIdentity", "serviceAccount:sink-writer@logging.iam.gserviceaccount.com")
    if typ == "gcp:cloudfunctionsv2/function:Function":
        outputs.setdefault("url", f"https://{name}-mock.a.run.app")
        # the Cloud Run service's URI (what the scheduler and the push subscription call)
        outputs["serviceConfig"] = {**inputs.get("serviceConfig", {}), "uri": f"https://{name}.run.app"}


PLAN = PlanShape(
    prices={
        "gcp:storage/bucket:Bucket": (0.01, "GCS Standard ~100 MB (5 GB free in us-* regions)"),
        "gcp:secretmanager/secret:Secret": (0.06, "Secret Manager: $0.06 per active version (6 free)"),
        "gcp:cloudfunctionsv2/function:Function": (
            0.05,
            "Cloud Run functions: 0 instances when idle; build image in Artifact Registry ~0.5 GB",
        ),
        "gcp:cloudscheduler/job:Job": (0.0, "Cloud Scheduler: 3 jobs free per billing account"),
        "gcp:pubsub/topic:Topic": (0.0, "Pub/Sub: first 10 GB free"),
        "gcp:logging/projectSink:ProjectSink": (0.0, "log routing to Pub/Sub: no charge"),
        "gcp:monitoring/notificationChannel:NotificationChannel": (0.0, "notification channels: free"),
        "gcp:securitycenter/v2ProjectNotificationConfig:V2ProjectNotificationConfig": (
            0.0,
            "SCC notifications: free (the Pub/Sub messages fit the free tier)",
        ),
    },
    worker_function=("gcp:cloudfunctionsv2/function:Function", ("serviceConfig", "environmentVariables")),
    calls={
        "gcp:organizations/getProject:getProject": {"number": "000000000000", "projectId": "project-mock"}
    },
    mock_outputs=_mock_outputs,
    # a Pub/Sub notification channel's topic is one of its labels
    labels_are_settings=frozenset({"gcp:monitoring/notificationChannel:NotificationChannel"}),
)

DEPLOY = CloudDeploy(
    cloud="gcp",
    default_region="us-central1",
    # an unlocked retention policy can be removed by anyone with storage.buckets.update: locked by default
    default_lock_mode="compliance",
    regions=_regions,
    watches_regions=False,
    require_settings=_require_settings,
    stack_config=_stack_config,
    bundle=BundleLayout(
        limit=Limit(
            100, 500, "Cloud Run functions: 100 MB zipped source upload, 500 MB unzipped with modules"
        ),
        runtime="functions-framework",
        vendored=False,  # Cloud Build installs requirements.txt
        shims=_shims,
        scan_packages=(
            "google-auth",
            "google-cloud-storage",
            "google-cloud-compute",
            "google-api-python-client",
        ),
    ),
    retained="the audit bucket is kept: objects under its retention policy cannot be deleted before it expires",
    state_store=_state_store,
    credential_writer=_credential_writer,
    preflight=_preflight,
    audit_location=audit_location,
    user_schedules=_user_schedules,
    plan=PLAN,
)
