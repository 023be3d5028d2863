"""``escher:gcp:Extension``: state and retention-locked audit buckets, Secret Manager secrets, a service account
with a generated custom role, one Cloud Run function (gen2) from a source bundle, Cloud Scheduler (OIDC), and
event sources -> Pub/Sub -> push subscription (OIDC) -> the function, with a dead-letter topic: audit logs of the
methods the normalizers read, Monitoring incidents, SCC findings, budget messages (:mod:`escher.infra.gcp_events`).

- The required APIs are enabled first (``projects.Service``, kept on destroy); the build runs as its own account.

- One HTTP function, one entry point (``on_schedule`` in ``escher.workers.gcp.main``): the push subscription
  posts the Pub/Sub envelope, the scheduler posts ``{"job": "daily_scan"}``; the worker tells them apart.
- The push subscription is ours (not an Eventarc trigger) because only a subscription can dead-letter.
- Secrets are created without versions; ``escher extend`` adds the values with the SDK (never in state).
- User schedules (``escher schedule add``) are Cloud Scheduler jobs the laptop makes directly, outside the stack
  (:mod:`escher.clouds.gcp.schedules`); the outputs name what they need: ``scheduler_location``, ``worker_url``,
  ``invoker_service_account``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from escher.infra.component import Extension, Outputs, PartOutputs, Scope, create_extension, declare_part
from escher.infra.spec import ExtensionSpec

if TYPE_CHECKING:
    import pulumi

__all__ = [
    "REQUIRED_APIS",
    "TYPE_TOKEN",
    "USER_SCHEDULE_PERMISSIONS",
    "extension",
    "required_apis",
    "role_suffix",
]

TYPE_TOKEN = "escher:gcp:Extension"
# the APIs the extension uses: enabled first (a fresh project has none of them), kept on destroy
REQUIRED_APIS: tuple[str, ...] = (
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
)
FINDINGS_API = "securitycenter.googleapis.com"
# Cloud Scheduler's HTTP attempt deadline (15 s .. 30 min; default 3 min) and the function's timeout: a daily
# scan that outlives the deadline would be retried while it still runs
SCAN_DEADLINE_SECONDS = 1800


# what the laptop's identity needs for `escher schedule add|remove` (not granted by the stack: its deployer has
# them; another person is given them by hand): the jobs in the stack's project and location, and acting as the
# invoker service account whose OIDC token the jobs send; `escher destroy` lists them to delete every one first
# (the stack does not own them)
USER_SCHEDULE_PERMISSIONS: tuple[str, ...] = (
    "cloudscheduler.jobs.create",
    "cloudscheduler.jobs.update",
    "cloudscheduler.jobs.delete",
    "cloudscheduler.jobs.list",
    "iam.serviceAccounts.actAs (on the invoker service account only)",
)


def required_apis(events: tuple[str, ...]) -> tuple[str, ...]:
    findings = {"threat_findings", "security_findings"} & set(events)
    return tuple(sorted({*REQUIRED_APIS, *([FINDINGS_API] if findings else [])}))


def role_suffix(stack: str) -> str:
    """A custom role id part per stack: role ids are unique per project and a deleted one stays reserved for
    up to 37 days, so two stacks (or a stack and the ghost of another) never claim the same id."""
    cleaned = "".join(c if c.isalnum() else "_" for c in stack.lower())[:20]
    return cleaned or "default"


def object_name(path: str) -> str:
    data = Path(path).read_bytes() if Path(path).exists() else b""
    return f"worker-{hashlib.sha256(data).hexdigest()[:16]}.zip"


def _build(extension: pulumi.ComponentResource, spec: ExtensionSpec) -> Outputs:
    """The Extension in parts: APIs, state store, audit store, identities, secrets, worker, access,
    schedules, event wiring."""
    from escher.infra import gcp_events
    from escher.infra.parts import gcp as parts

    def part(kind: str, name: str, build: Callable[[Scope], PartOutputs]) -> PartOutputs:
        return declare_part(extension, f"escher:gcp:{kind}", name, build)

    apis = part("Apis", "apis", lambda s: parts.apis(s, spec))
    state = part("StateStore", "state-store", lambda s: parts.state_store(s, spec, apis))
    audit = part("AuditStore", "audit-store", lambda s: parts.audit_store(s, spec, apis))
    ids = part("Identities", "identities", lambda s: parts.identities(s, spec, apis))
    part("Secrets", "secrets", lambda s: parts.secrets(s, spec, apis, ids=ids))
    worker = part(
        "Worker", "worker", lambda s: parts.worker(s, spec, apis, ids=ids, state=state, audit=audit)
    )
    access = part(
        "Access",
        "access",
        lambda s: parts.access(s, spec, apis, ids=ids, state=state, audit=audit, worker=worker),
    )
    part("Schedules", "schedules", lambda s: parts.schedules(s, spec, apis, ids=ids, worker=worker))
    events = part(
        "EventWiring", "events", lambda s: gcp_events.wire_events(s, spec, apis, ids=ids, worker=worker)
    )
    return {
        "cloud": "gcp",
        "region": spec.region,
        "project": spec.gcp_project,
        "state_bucket": state.bucket,
        "audit_bucket": audit.bucket,
        "worker": worker.name,
        "worker_url": worker.url,
        "worker_service_account": ids.worker_email,
        "operations_role": access.operations_role,
        "state_url": state.url,
        "audit_url": audit.url,  # the retention-locked bucket: kept on `escher destroy`, which names it
        "dead_letter_url": worker.dead_letter_url,
        "dead_letter_topic": worker.dead_letter_topic,
        "scan_topic": worker.scan_topic,  # the organization scan (escher.pipeline.fanout)
        "scan_dead_letter_topic": worker.scan_dead_letter_topic,
        # what `escher schedule add` needs to make a user schedule's Cloud Scheduler job call the worker as the
        # daily job does (escher.clouds.gcp.schedules); the stack grants the laptop nothing for it
        "scheduler_location": spec.region,
        "invoker_service_account": ids.invoker_email,
        "user_schedule_permissions": list(USER_SCHEDULE_PERMISSIONS),
        **events.outputs,
    }


def extension(name: str, spec: ExtensionSpec, opts: pulumi.ResourceOptions | None = None) -> Extension:
    return create_extension(TYPE_TOKEN, name, spec, _build, opts)
