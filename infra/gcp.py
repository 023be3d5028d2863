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
  (:mod:`escher.extend.schedules_gcp`); the outputs name what they need: ``scheduler_location``, ``worker_url``,
  ``invoker_service_account``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from escher.infra.component import Extension, Outputs, child, create_extension
from escher.infra.permissions import GCP_STATE_BINDINGS, check_no_wildcards, gcp_state_write_condition
from escher.infra.scoping import gcp_own_bucket_condition, gcp_split_permissions
from escher.infra.spec import EVENTS_LOG_PREFIX, ExtensionSpec

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


def _object_name(path: str) -> str:
    data = Path(path).read_bytes() if Path(path).exists() else b""
    return f"worker-{hashlib.sha256(data).hexdigest()[:16]}.zip"


def _build(parent: pulumi.ComponentResource, spec: ExtensionSpec) -> Outputs:
    import pulumi
    import pulumi_gcp.cloudfunctionsv2 as functions
    import pulumi_gcp.cloudrunv2 as cloudrun
    import pulumi_gcp.cloudscheduler as cloudscheduler
    import pulumi_gcp.organizations as organizations
    import pulumi_gcp.projects as projects
    import pulumi_gcp.pubsub as pubsub
    import pulumi_gcp.secretmanager as secretmanager
    import pulumi_gcp.serviceaccount as serviceaccount
    import pulumi_gcp.storage as storage

    prefix = spec.name_prefix
    project = spec.gcp_project
    labels = {"escher": "extend", "escher-stack": prefix}
    # every other resource waits for the APIs (a fresh project has none enabled); they stay on destroy
    apis = [
        projects.Service(
            f"api-{api.split('.')[0]}",
            project=project,
            service=api,
            disable_on_destroy=False,
            disable_dependent_services=False,
            opts=child(parent),
        )
        for api in required_apis(spec.events)
    ]
    opts = child(parent, depends_on=apis)

    def bucket(
        name: str,
        options: pulumi.ResourceOptions,
        *,
        force_destroy: bool = False,
        versioning: storage.BucketVersioningArgs | None = None,
        retention_policy: storage.BucketRetentionPolicyArgs | None = None,
        lifecycle_rules: list[storage.BucketLifecycleRuleArgs] | None = None,
    ) -> storage.Bucket:
        return storage.Bucket(
            name,
            project=project,
            location=spec.region.upper(),
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=force_destroy,
            versioning=versioning,
            retention_policy=retention_policy,
            lifecycle_rules=lifecycle_rules,
            labels=labels,
            opts=options,
        )

    # -- state, audit (retention policy), worker source ----------------------------------------------------
    # the log of generic events (nothing was decided) expires; the rest of the state stays
    events_log_expiry = storage.BucketLifecycleRuleArgs(
        action=storage.BucketLifecycleRuleActionArgs(type="Delete"),
        condition=storage.BucketLifecycleRuleConditionArgs(
            age=spec.events_log_days, matches_prefixes=[EVENTS_LOG_PREFIX]
        ),
    )
    state = bucket(
        "state",
        opts,
        force_destroy=True,
        versioning=storage.BucketVersioningArgs(enabled=True),
        lifecycle_rules=[events_log_expiry],
    )
    audit = bucket(
        "audit",
        child(parent, retain_on_delete=True, depends_on=apis),
        retention_policy=storage.BucketRetentionPolicyArgs(
            retention_period=str(spec.audit_retention_days * 24 * 3600),
            is_locked=spec.lock_mode == "compliance",  # a locked policy can never be shortened
        ),
    )
    sources = bucket("sources", opts, force_destroy=True)
    source = storage.BucketObject(
        "worker-source",
        bucket=sources.name,
        name=_object_name(spec.bundle_path),
        source=pulumi.FileAsset(spec.bundle_path),
        opts=opts,
    )

    # -- identities and least privilege --------------------------------------------------------------------
    worker_sa = serviceaccount.Account(
        "worker", project=project, account_id=f"{prefix}-worker", display_name="Escher worker", opts=opts
    )
    invoker_sa = serviceaccount.Account(
        "invoker", project=project, account_id=f"{prefix}-invoker", display_name="Escher invoker", opts=opts
    )
    # the build runs as its own account: organizations that disable default grants leave Cloud Build's
    # default account without rights (and it is too broad where they do not)
    builder_sa = serviceaccount.Account(
        "builder", project=project, account_id=f"{prefix}-builder", display_name="Escher build", opts=opts
    )
    for label, build_role in (
        ("logs", "roles/logging.logWriter"),
        ("images", "roles/artifactregistry.writer"),
    ):
        projects.IAMMember(
            f"builder-{label}", project=project, role=build_role, member=builder_sa.member, opts=opts
        )
    check_no_wildcards(spec.permissions)
    anywhere, not_own = gcp_split_permissions(spec.permissions)
    role = projects.IAMCustomRole(
        "operations-role",
        project=project,
        role_id=f"{prefix.replace('-', '_')}_operations_{role_suffix(pulumi.get_stack())}",
        title="Escher worker operations",
        description="The permissions of the enabled catalogue operations except bucket changes",
        permissions=anywhere,
        opts=opts,
    )
    projects.IAMMember(
        "grant-operations", project=project, role=role.name, member=worker_sa.member, opts=opts
    )
    if not_own:
        # bucket changes (IAM policy, retention, delete ...) everywhere but on Escher's own buckets: a
        # project-level binding with a condition on the resource name (IAM has no deny a project can write
        # without organization rights)
        storage_role = projects.IAMCustomRole(
            "storage-operations-role",
            project=project,
            role_id=f"{prefix.replace('-', '_')}_storage_ops_{role_suffix(pulumi.get_stack())}",
            title="Escher worker storage operations",
            description="The enabled catalogue operations' bucket changes; bound outside Escher's own buckets",
            permissions=not_own,
            opts=opts,
        )
        projects.IAMMember(
            "grant-storage-operations",
            project=project,
            role=storage_role.name,
            member=worker_sa.member,
            condition=projects.IAMMemberConditionArgs(
                title="not-escher-own-buckets",
                description="Escher's state, audit and source buckets stay out of the worker's reach",
                expression=pulumi.Output.all(state.name, audit.name, sources.name).apply(
                    gcp_own_bucket_condition
                ),
            ),
            opts=opts,
        )
    storage.BucketIAMMember(
        "builder-reads-sources",
        bucket=sources.name,
        role="roles/storage.objectViewer",
        member=builder_sa.member,
        opts=opts,
    )
    # the state bucket: read everything; write everything but the settings and grants the laptop publishes
    storage.BucketIAMMember(
        "grant-state-read",
        bucket=state.name,
        role=GCP_STATE_BINDINGS["state-read"],
        member=worker_sa.member,
        opts=opts,
    )
    storage.BucketIAMMember(
        "grant-state",
        bucket=state.name,
        role=GCP_STATE_BINDINGS["state"],
        member=worker_sa.member,
        condition=storage.BucketIAMMemberConditionArgs(
            title="not-laptop-owned-state",
            description="the published settings and approval grants are the laptop's: the worker only reads them",
            expression=state.name.apply(gcp_state_write_condition),
        ),
        opts=opts,
    )
    storage.BucketIAMMember(
        "grant-audit", bucket=audit.name, role=GCP_STATE_BINDINGS["audit"], member=worker_sa.member, opts=opts
    )
    for cred in spec.credential_names:
        secret = secretmanager.Secret(
            f"credential-{cred}",
            project=project,
            secret_id=f"{prefix}-{cred}",
            replication=secretmanager.SecretReplicationArgs(auto=secretmanager.SecretReplicationAutoArgs()),
            labels=labels,
            opts=opts,
        )
        secretmanager.SecretIamMember(
            f"grant-credential-{cred}",
            project=project,
            secret_id=secret.secret_id,
            role=GCP_STATE_BINDINGS["secrets"],
            member=worker_sa.member,
            opts=opts,
        )

    # -- dead letters: the worker publishes what it cannot handle here; with events enabled, Pub/Sub forwards
    # the deliveries it gave up on to the same topic. A topic without a subscription drops messages: this
    # subscription keeps them for 7 days.
    dead_topic = pubsub.Topic("dead-letters", project=project, labels=labels, opts=opts)
    pubsub.Subscription(
        "dead-letters-kept",
        project=project,
        topic=dead_topic.id,
        message_retention_duration="604800s",
        expiration_policy=pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
        opts=opts,
    )
    pubsub.TopicIAMMember(
        "worker-may-dead-letter",
        project=project,
        topic=dead_topic.name,
        role="roles/pubsub.publisher",
        member=worker_sa.member,
        opts=opts,
    )
    # what escher.pipeline.runtime reads
    state_url = pulumi.Output.concat("gs://", state.name)
    audit_url = pulumi.Output.concat("gs://", audit.name)
    dead_letter_url = pulumi.Output.concat(
        "pubsub://projects/", dead_topic.project, "/topics/", dead_topic.name
    )

    # -- the function ------------------------------------------------------------------------------------
    function = functions.Function(
        "worker",
        project=project,
        location=spec.region,
        build_config=functions.FunctionBuildConfigArgs(
            runtime="python312",
            entry_point=spec.entry_points.gcp_target,
            service_account=builder_sa.id,
            source=functions.FunctionBuildConfigSourceArgs(
                storage_source=functions.FunctionBuildConfigSourceStorageSourceArgs(
                    bucket=sources.name, object=source.name
                )
            ),
        ),
        service_config=functions.FunctionServiceConfigArgs(
            min_instance_count=0,
            max_instance_count=3,
            available_memory="512Mi",
            timeout_seconds=SCAN_DEADLINE_SECONDS,
            ingress_settings="ALLOW_ALL",  # Pub/Sub push and Scheduler come from Google's front ends
            service_account_email=worker_sa.email,
            environment_variables={
                "ESCHER_CLOUD": "gcp",
                "ESCHER_STATE_URL": state_url,
                "ESCHER_DEAD_LETTER_URL": dead_letter_url,
                # the audit objects go to the retention-locked bucket (roles/storage.objectCreator: no delete)
                "ESCHER_AUDIT_URL": audit_url,
                "ESCHER_STATE_BUCKET": state.name,
                "ESCHER_AUDIT_BUCKET": audit.name,
                "ESCHER_SECRET_PREFIX": f"{prefix}-",
                # Cloud Scheduler fires in the user's zone already; the worker's settings carry the same values
                "ESCHER_TIMEZONE": spec.timezone,
                "ESCHER_DAILY_SCAN_AT": spec.daily_scan_at,
                "ESCHER_OPERATIONS": ",".join(spec.operations),
                "ESCHER_EVENTS_LOG_PREFIX": EVENTS_LOG_PREFIX,
                "ESCHER_EVENTS_LOG_DAYS": str(spec.events_log_days),
            },
        ),
        labels=labels,
        opts=opts,
    )
    cloudrun.ServiceIamMember(
        "invoker-may-invoke",
        project=project,
        location=spec.region,
        name=function.name,
        role="roles/run.invoker",
        member=invoker_sa.member,
        opts=opts,
    )
    # the Cloud Run service's URI: what the scheduler calls and the OIDC audience the service checks
    url = function.service_config.apply(lambda c: (c.uri if c else None) or "")

    # -- the daily scan ------------------------------------------------------------------------------------
    hour, minute = spec.scan_hour_minute
    cloudscheduler.Job(
        "daily-scan",
        project=project,
        region=spec.region,
        schedule=f"{minute} {hour} * * *",
        time_zone=spec.timezone,
        http_target=cloudscheduler.JobHttpTargetArgs(
            uri=url,
            http_method="POST",
            headers={"Content-Type": "application/json"},
            body=base64.b64encode(
                json.dumps({"job": "daily_scan"}).encode()
            ).decode(),  # the API takes base64
            oidc_token=cloudscheduler.JobHttpTargetOidcTokenArgs(
                service_account_email=invoker_sa.email, audience=url
            ),
        ),
        attempt_deadline=f"{SCAN_DEADLINE_SECONDS}s",
        retry_config=cloudscheduler.JobRetryConfigArgs(retry_count=3),
        opts=opts,
    )

    # -- audit logs -> Pub/Sub -> the function, dead letters kept on their own topic -------------------------
    outputs: Outputs = {
        "cloud": "gcp",
        "region": spec.region,
        "project": project,
        "state_bucket": state.name,
        "audit_bucket": audit.name,
        "worker": function.name,
        "worker_url": url,
        "worker_service_account": worker_sa.email,
        "operations_role": role.name,
        "state_url": state_url,
        "audit_url": audit_url,  # the retention-locked bucket: kept on `escher destroy`, which names it
        "dead_letter_url": dead_letter_url,
        "dead_letter_topic": dead_topic.name,
        # what `escher schedule add` needs to make a user schedule's Cloud Scheduler job call the worker as the
        # daily job does (escher.extend.schedules_gcp); the stack grants the laptop nothing for it
        "scheduler_location": spec.region,
        "invoker_service_account": invoker_sa.email,
        "user_schedule_permissions": list(USER_SCHEDULE_PERMISSIONS),
    }
    if spec.events:
        number = organizations.get_project_output(
            project_id=project, opts=pulumi.InvokeOutputOptions(parent=parent)
        ).number
        pubsub_agent = pulumi.Output.concat(
            "serviceAccount:service-", number, "@gcp-sa-pubsub.iam.gserviceaccount.com"
        )
        topic = pubsub.Topic("events", project=project, labels=labels, opts=opts)
        from escher.infra.gcp_events import wire_events

        outputs.update(wire_events(parent, spec, topic=topic, worker_sa=worker_sa, number=number, opts=opts))
        subscription = pubsub.Subscription(
            "to-worker",
            project=project,
            topic=topic.id,
            ack_deadline_seconds=600,
            message_retention_duration="86400s",  # deliveries are retried for up to 24 h
            push_config=pubsub.SubscriptionPushConfigArgs(
                push_endpoint=url,
                oidc_token=pubsub.SubscriptionPushConfigOidcTokenArgs(
                    service_account_email=invoker_sa.email, audience=url
                ),
            ),
            retry_policy=pubsub.SubscriptionRetryPolicyArgs(minimum_backoff="10s", maximum_backoff="600s"),
            dead_letter_policy=pubsub.SubscriptionDeadLetterPolicyArgs(
                dead_letter_topic=dead_topic.id, max_delivery_attempts=10
            ),
            expiration_policy=pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
            opts=opts,
        )
        # Pub/Sub's own agent forwards dead letters: it must publish there and acknowledge here
        pubsub.TopicIAMMember(
            "dead-letters-publisher",
            project=project,
            topic=dead_topic.name,
            role="roles/pubsub.publisher",
            member=pubsub_agent,
            opts=opts,
        )
        pubsub.SubscriptionIAMMember(
            "dead-letters-subscriber",
            project=project,
            subscription=subscription.name,
            role="roles/pubsub.subscriber",
            member=pubsub_agent,
            opts=opts,
        )
        outputs["events_topic"] = topic.name
    return outputs


def extension(name: str, spec: ExtensionSpec, opts: pulumi.ResourceOptions | None = None) -> Extension:
    return create_extension(TYPE_TOKEN, name, spec, _build, opts)
