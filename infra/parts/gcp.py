"""The parts of ``escher:gcp:Extension``: APIs, state store, audit store, identities, secrets, worker (the
function, its source and dead letters), access (custom roles and grants), schedules (the daily scan), event
wiring (:mod:`escher.infra.gcp_events` declares the sources). Each returns its typed outputs."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from escher.clouds.gcp.fanout import MAX_DELIVERY_ATTEMPTS
from escher.infra.component import Scope
from escher.infra.gcp import SCAN_DEADLINE_SECONDS, object_name, required_apis, role_suffix
from escher.infra.permissions import GCP_STATE_BINDINGS, check_no_wildcards, gcp_state_write_condition
from escher.infra.scoping import gcp_own_bucket_condition, gcp_split_permissions
from escher.infra.spec import EVENTS_LOG_PREFIX, ExtensionSpec

if TYPE_CHECKING:
    import pulumi

__all__ = ["Access", "Apis", "Identities", "Schedules", "Secrets", "Store", "Worker"]


@dataclass(frozen=True)
class Apis:
    services: list[str]
    # every other resource waits for them (a fresh project has none enabled)
    resources: list[Any] = field(default_factory=list, metadata={"output": False})


@dataclass(frozen=True)
class Store:
    """A bucket of Escher's: the state (versioned, events log expiring) or the audit (retention policy)."""

    bucket: pulumi.Output[str]
    url: pulumi.Output[str]  # gs://bucket, what escher.pipeline.runtime reads


@dataclass(frozen=True)
class Identities:
    worker_email: pulumi.Output[str]
    worker_member: pulumi.Output[str]
    invoker_email: pulumi.Output[str]  # the OIDC identity of the scheduler and the push subscription
    invoker_member: pulumi.Output[str]
    builder_id: pulumi.Output[str]
    builder_member: pulumi.Output[str]


@dataclass(frozen=True)
class Secrets:
    secret_ids: list[str]  # values are added by `escher extend` with the SDK, never in state


@dataclass(frozen=True)
class Worker:
    name: pulumi.Output[str]
    url: pulumi.Output[str]  # the Cloud Run service's URI: what callers post to, and the OIDC audience
    sources_bucket: pulumi.Output[str]
    dead_letter_topic: pulumi.Output[str]
    dead_letter_topic_id: pulumi.Output[str]
    dead_letter_url: pulumi.Output[str]
    scan_topic: pulumi.Output[
        str
    ]  # the organization scan: one project a message, pushed to the scan function
    scan_dead_letter_topic: pulumi.Output[str]


@dataclass(frozen=True)
class Access:
    operations_role: pulumi.Output[str]


@dataclass(frozen=True)
class Schedules:
    daily_scan: pulumi.Output[str]


def labels_of(spec: ExtensionSpec) -> dict[str, str]:
    return {"escher": "extend", "escher-stack": spec.name_prefix}


def apis(scope: Scope, spec: ExtensionSpec) -> Apis:
    """The APIs the extension uses, enabled first; they stay on destroy."""
    import pulumi_gcp.projects as projects

    services = list(required_apis(spec.events))
    made = [
        projects.Service(
            f"api-{api.split('.')[0]}",
            project=spec.gcp_project,
            service=api,
            disable_on_destroy=False,
            disable_dependent_services=False,
            opts=scope.opts(),
        )
        for api in services
    ]
    return Apis(services, made)


def escher_bucket(name: str, spec: ExtensionSpec, opts: pulumi.ResourceOptions, **settings: Any) -> Any:
    """A private bucket (uniform access, public access prevented) in the region; ``settings`` as the
    provider names them (force_destroy, versioning, retention_policy, lifecycle_rules)."""
    import pulumi_gcp.storage as storage

    wanted = {"force_destroy": False, "versioning": None, "retention_policy": None, "lifecycle_rules": None}
    return storage.Bucket(
        name,
        project=spec.gcp_project,
        location=spec.region.upper(),
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        **{**wanted, **settings},
        labels=labels_of(spec),
        opts=opts,
    )


def state_store(scope: Scope, spec: ExtensionSpec, apis: Apis) -> Store:
    import pulumi
    import pulumi_gcp.storage as storage

    # the log of generic events (nothing was decided) expires; the rest of the state stays
    events_log_expiry = storage.BucketLifecycleRuleArgs(
        action=storage.BucketLifecycleRuleActionArgs(type="Delete"),
        condition=storage.BucketLifecycleRuleConditionArgs(
            age=spec.events_log_days, matches_prefixes=[EVENTS_LOG_PREFIX]
        ),
    )
    state = escher_bucket(
        "state",
        spec,
        scope.opts(depends_on=apis.resources),
        force_destroy=True,
        versioning=storage.BucketVersioningArgs(enabled=True),
        lifecycle_rules=[events_log_expiry],
    )
    return Store(state.name, pulumi.Output.concat("gs://", state.name))


def audit_store(scope: Scope, spec: ExtensionSpec, apis: Apis) -> Store:
    """Under a retention policy; kept on destroy (``escher destroy`` names it)."""
    import pulumi
    import pulumi_gcp.storage as storage

    audit = escher_bucket(
        "audit",
        spec,
        scope.opts(retain_on_delete=True, depends_on=apis.resources),
        retention_policy=storage.BucketRetentionPolicyArgs(
            retention_period=str(spec.audit_retention_days * 24 * 3600),
            is_locked=spec.lock_mode == "compliance",  # a locked policy can never be shortened
        ),
    )
    return Store(audit.name, pulumi.Output.concat("gs://", audit.name))


def identities(scope: Scope, spec: ExtensionSpec, apis: Apis) -> Identities:
    """The worker's, the invoker's and the build's service accounts. The build runs as its own account:
    organizations that disable default grants leave Cloud Build's default account without rights (and it
    is too broad where they do not)."""
    import pulumi_gcp.projects as projects
    import pulumi_gcp.serviceaccount as serviceaccount

    opts, project, prefix = scope.opts(depends_on=apis.resources), spec.gcp_project, spec.name_prefix
    accounts = {
        label: serviceaccount.Account(
            label, project=project, account_id=f"{prefix}-{label}", display_name=display, opts=opts
        )
        for label, display in (
            ("worker", "Escher worker"),
            ("invoker", "Escher invoker"),
            ("builder", "Escher build"),
        )
    }
    builder = accounts["builder"]
    for label, build_role in (
        ("logs", "roles/logging.logWriter"),
        ("images", "roles/artifactregistry.writer"),
    ):
        projects.IAMMember(
            f"builder-{label}", project=project, role=build_role, member=builder.member, opts=opts
        )
    return Identities(
        worker_email=accounts["worker"].email,
        worker_member=accounts["worker"].member,
        invoker_email=accounts["invoker"].email,
        invoker_member=accounts["invoker"].member,
        builder_id=builder.id,
        builder_member=builder.member,
    )


def access(
    scope: Scope,
    spec: ExtensionSpec,
    apis: Apis,
    *,
    ids: Identities,
    state: Store,
    audit: Store,
    worker: Worker,
) -> Access:
    """Least privilege: a custom role of the enabled operations' permissions; bucket changes only outside
    Escher's own buckets; the state bucket read, and written but for what the laptop publishes; the audit
    bucket create-only."""
    import pulumi
    import pulumi_gcp.projects as projects

    opts, project = scope.opts(depends_on=apis.resources), spec.gcp_project
    check_no_wildcards(spec.permissions)
    anywhere, not_own = gcp_split_permissions(spec.permissions)
    role = _custom_role(
        scope, spec, apis, "operations-role", "operations", anywhere, title="Escher worker operations",
        description="The permissions of the enabled catalogue operations except bucket changes",
    )  # fmt: skip
    projects.IAMMember(
        "grant-operations", project=project, role=role.name, member=ids.worker_member, opts=opts
    )
    if not_own:
        # bucket changes (IAM policy, retention, delete ...) everywhere but on Escher's own buckets: a
        # project-level binding with a condition on the resource name (IAM has no deny a project can write
        # without organization rights)
        storage_role = _custom_role(
            scope, spec, apis, "storage-operations-role", "storage_ops", not_own,
            title="Escher worker storage operations",
            description="The enabled catalogue operations' bucket changes; bound outside Escher's own buckets",
        )  # fmt: skip
        projects.IAMMember(
            "grant-storage-operations",
            project=project,
            role=storage_role.name,
            member=ids.worker_member,
            condition=projects.IAMMemberConditionArgs(
                title="not-escher-own-buckets",
                description="Escher's state, audit and source buckets stay out of the worker's reach",
                expression=pulumi.Output.all(state.bucket, audit.bucket, worker.sources_bucket).apply(
                    gcp_own_bucket_condition
                ),
            ),
            opts=opts,
        )
    _bucket_grants(opts, ids=ids, state=state, audit=audit)
    return Access(role.name)


def _custom_role(
    scope: Scope,
    spec: ExtensionSpec,
    apis: Apis,
    name: str,
    label: str,
    permissions: list[str],
    *,
    title: str,
    description: str,
) -> Any:
    import pulumi
    import pulumi_gcp.projects as projects

    return projects.IAMCustomRole(
        name,
        project=spec.gcp_project,
        role_id=f"{spec.name_prefix.replace('-', '_')}_{label}_{role_suffix(pulumi.get_stack())}",
        title=title,
        description=description,
        permissions=permissions,
        opts=scope.opts(depends_on=apis.resources),
    )


def _bucket_grants(opts: pulumi.ResourceOptions, *, ids: Identities, state: Store, audit: Store) -> None:
    import pulumi_gcp.storage as storage

    # the state bucket: read everything; write everything but the settings and grants the laptop publishes
    storage.BucketIAMMember(
        "grant-state-read",
        bucket=state.bucket,
        role=GCP_STATE_BINDINGS["state-read"],
        member=ids.worker_member,
        opts=opts,
    )
    storage.BucketIAMMember(
        "grant-state",
        bucket=state.bucket,
        role=GCP_STATE_BINDINGS["state"],
        member=ids.worker_member,
        condition=storage.BucketIAMMemberConditionArgs(
            title="not-laptop-owned-state",
            description="the published settings and approval grants are the laptop's: the worker only reads them",
            expression=state.bucket.apply(gcp_state_write_condition),
        ),
        opts=opts,
    )
    storage.BucketIAMMember(
        "grant-audit",
        bucket=audit.bucket,
        role=GCP_STATE_BINDINGS["audit"],
        member=ids.worker_member,
        opts=opts,
    )


def secrets(scope: Scope, spec: ExtensionSpec, apis: Apis, *, ids: Identities) -> Secrets:
    """Secret Manager secrets without versions (``escher extend`` adds the values), readable by the worker."""
    import pulumi_gcp.secretmanager as secretmanager

    opts, project = scope.opts(depends_on=apis.resources), spec.gcp_project
    ids_made = []
    for cred in spec.credential_names:
        secret_id = f"{spec.name_prefix}-{cred}"
        secret = secretmanager.Secret(
            f"credential-{cred}",
            project=project,
            secret_id=secret_id,
            replication=secretmanager.SecretReplicationArgs(auto=secretmanager.SecretReplicationAutoArgs()),
            labels=labels_of(spec),
            opts=opts,
        )
        secretmanager.SecretIamMember(
            f"grant-credential-{cred}",
            project=project,
            secret_id=secret.secret_id,
            role=GCP_STATE_BINDINGS["secrets"],
            member=ids.worker_member,
            opts=opts,
        )
        ids_made.append(secret_id)
    return Secrets(ids_made)


def worker(
    scope: Scope, spec: ExtensionSpec, apis: Apis, *, ids: Identities, state: Store, audit: Store
) -> Worker:
    """The function (gen2) from its source bucket, its dead letters, and who may invoke it."""
    import pulumi
    import pulumi_gcp.cloudrunv2 as cloudrun
    import pulumi_gcp.pubsub as pubsub
    import pulumi_gcp.storage as storage

    opts, project = scope.opts(depends_on=apis.resources), spec.gcp_project
    sources = escher_bucket("sources", spec, opts, force_destroy=True)
    source = storage.BucketObject(
        "worker-source",
        bucket=sources.name,
        name=object_name(spec.bundle_path),
        source=pulumi.FileAsset(spec.bundle_path),
        opts=opts,
    )
    storage.BucketIAMMember(
        "builder-reads-sources",
        bucket=sources.name,
        role="roles/storage.objectViewer",
        member=ids.builder_member,
        opts=opts,
    )
    dead_topic = _dead_letters(opts, spec, ids)
    dead_letter_url = pulumi.Output.concat(
        "pubsub://projects/", dead_topic.project, "/topics/", dead_topic.name
    )
    environment = _environment(spec, state=state, audit=audit, dead_letter_url=dead_letter_url)
    scan_topic = pubsub.Topic("scan-queue", project=project, labels=labels_of(spec), opts=opts)
    environment["ESCHER_SCAN_QUEUE_URL"] = pulumi.Output.concat(
        "pubsub://projects/", scan_topic.project, "/topics/", scan_topic.name
    )
    function = _function(opts, spec, ids, sources=sources, source=source, environment=environment)
    scan_dead = _scan_fanout(
        scope, opts, spec, ids, topic=scan_topic, sources=sources, source=source, env=environment
    )
    cloudrun.ServiceIamMember(
        "invoker-may-invoke",
        project=project,
        location=spec.region,
        name=function.name,
        role="roles/run.invoker",
        member=ids.invoker_member,
        opts=opts,
    )
    return Worker(
        name=function.name,
        url=function.service_config.apply(lambda c: (c.uri if c else None) or ""),
        sources_bucket=sources.name,
        dead_letter_topic=dead_topic.name,
        dead_letter_topic_id=dead_topic.id,
        dead_letter_url=dead_letter_url,
        scan_topic=scan_topic.name,
        scan_dead_letter_topic=scan_dead.name,
    )


SCAN_TARGET = "on_scan"  # escher.workers.gcp.main: the push subscription's endpoint
SCAN_CONCURRENCY = 10  # projects scanned at once: instances of the scan function, one request each


def _scan_fanout(
    scope: Scope,
    opts: pulumi.ResourceOptions,
    spec: ExtensionSpec,
    ids: Identities,
    *,
    topic: Any,
    sources: Any,
    source: Any,
    env: Any,
) -> Any:
    """The organization scan (escher.pipeline.fanout): the worker publishes one message per project to
    ``topic``; a push subscription posts each to the scan function (the same source, target ``on_scan``, at
    most SCAN_CONCURRENCY instances of one request each); after MAX_DELIVERY_ATTEMPTS failed deliveries
    Pub/Sub forwards the message to the scan's dead-letter topic, kept 7 days. Returns that topic."""
    import pulumi
    import pulumi_gcp.cloudrunv2 as cloudrun
    import pulumi_gcp.organizations as organizations
    import pulumi_gcp.pubsub as pubsub

    project = spec.gcp_project
    pubsub.TopicIAMMember(
        "worker-may-queue-scans", project=project, topic=topic.name, role="roles/pubsub.publisher",
        member=ids.worker_member, opts=opts,
    )  # fmt: skip
    dead = pubsub.Topic("scan-dead-letters", project=project, labels=labels_of(spec), opts=opts)
    pubsub.Subscription(
        "scan-dead-letters-kept", project=project, topic=dead.id, message_retention_duration="604800s",
        expiration_policy=pubsub.SubscriptionExpirationPolicyArgs(ttl=""), opts=opts,
    )  # fmt: skip
    scanner = _function(
        opts, spec, ids, sources=sources, source=source, environment=env, name="scanner", target=SCAN_TARGET,
        max_instances=SCAN_CONCURRENCY, one_request_each=True,
    )  # fmt: skip
    cloudrun.ServiceIamMember(
        "invoker-may-invoke-scanner", project=project, location=spec.region, name=scanner.name,
        role="roles/run.invoker", member=ids.invoker_member, opts=opts,
    )  # fmt: skip
    url = scanner.service_config.apply(lambda c: (c.uri if c else None) or "")
    subscription = pubsub.Subscription(
        "scan-to-scanner",
        project=project,
        topic=topic.id,
        ack_deadline_seconds=600,  # Pub/Sub's longest wait for the push's answer
        message_retention_duration="86400s",
        push_config=pubsub.SubscriptionPushConfigArgs(
            push_endpoint=url,
            oidc_token=pubsub.SubscriptionPushConfigOidcTokenArgs(
                service_account_email=ids.invoker_email, audience=url
            ),
        ),
        retry_policy=pubsub.SubscriptionRetryPolicyArgs(minimum_backoff="10s", maximum_backoff="600s"),
        dead_letter_policy=pubsub.SubscriptionDeadLetterPolicyArgs(
            dead_letter_topic=dead.id, max_delivery_attempts=MAX_DELIVERY_ATTEMPTS
        ),
        expiration_policy=pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
        opts=opts,
    )
    # Pub/Sub's own agent forwards dead letters: it must publish there and acknowledge here
    number = organizations.get_project_output(project_id=project, opts=scope.invoke_opts()).number
    agent = pulumi.Output.concat("serviceAccount:service-", number, "@gcp-sa-pubsub.iam.gserviceaccount.com")
    pubsub.TopicIAMMember(
        "scan-dead-letters-publisher", project=project, topic=dead.name, role="roles/pubsub.publisher",
        member=agent, opts=opts,
    )  # fmt: skip
    pubsub.SubscriptionIAMMember(
        "scan-dead-letters-subscriber", project=project, subscription=subscription.name,
        role="roles/pubsub.subscriber", member=agent, opts=opts,
    )  # fmt: skip
    return dead


def _dead_letters(opts: pulumi.ResourceOptions, spec: ExtensionSpec, ids: Identities) -> Any:
    """The worker publishes what it cannot handle here; with events enabled, Pub/Sub forwards the deliveries
    it gave up on to the same topic. A topic without a subscription drops messages: this subscription keeps
    them for 7 days."""
    import pulumi_gcp.pubsub as pubsub

    project = spec.gcp_project
    dead_topic = pubsub.Topic("dead-letters", project=project, labels=labels_of(spec), opts=opts)
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
        member=ids.worker_member,
        opts=opts,
    )
    return dead_topic


def _environment(
    spec: ExtensionSpec, *, state: Store, audit: Store, dead_letter_url: pulumi.Output[str]
) -> dict[str, pulumi.Input[str]]:
    return {
        "ESCHER_CLOUD": "gcp",
        "ESCHER_STATE_URL": state.url,
        "ESCHER_DEAD_LETTER_URL": dead_letter_url,
        # the audit objects go to the retention-locked bucket (roles/storage.objectCreator: no delete)
        "ESCHER_AUDIT_URL": audit.url,
        "ESCHER_STATE_BUCKET": state.bucket,
        "ESCHER_AUDIT_BUCKET": audit.bucket,
        "ESCHER_SECRET_PREFIX": f"{spec.name_prefix}-",
        # Cloud Scheduler fires in the user's zone already; the worker's settings carry the same values
        "ESCHER_TIMEZONE": spec.timezone,
        "ESCHER_DAILY_SCAN_AT": spec.daily_scan_at,
        "ESCHER_OPERATIONS": ",".join(spec.operations),
        "ESCHER_EVENTS_LOG_PREFIX": EVENTS_LOG_PREFIX,
        "ESCHER_EVENTS_LOG_DAYS": str(spec.events_log_days),
    }


def _function(
    opts: pulumi.ResourceOptions,
    spec: ExtensionSpec,
    ids: Identities,
    *,
    sources: Any,
    source: Any,
    environment: dict[str, pulumi.Input[str]],
    name: str = "worker",
    target: str | None = None,
    max_instances: int = 3,
    one_request_each: bool = False,
) -> Any:
    import pulumi_gcp.cloudfunctionsv2 as functions

    return functions.Function(
        name,
        project=spec.gcp_project,
        location=spec.region,
        build_config=functions.FunctionBuildConfigArgs(
            runtime="python312",
            entry_point=target or spec.entry_points.gcp_target,
            service_account=ids.builder_id,
            source=functions.FunctionBuildConfigSourceArgs(
                storage_source=functions.FunctionBuildConfigSourceStorageSourceArgs(
                    bucket=sources.name, object=source.name
                )
            ),
        ),
        service_config=functions.FunctionServiceConfigArgs(
            min_instance_count=0,
            max_instance_count=max_instances,
            # the scan function: one project per instance at a time (the bound on concurrency)
            max_instance_request_concurrency=1 if one_request_each else None,
            available_memory="512Mi",
            timeout_seconds=SCAN_DEADLINE_SECONDS,
            ingress_settings="ALLOW_ALL",  # Pub/Sub push and Scheduler come from Google's front ends
            service_account_email=ids.worker_email,
            environment_variables=environment,
        ),
        labels=labels_of(spec),
        opts=opts,
    )


def schedules(scope: Scope, spec: ExtensionSpec, apis: Apis, *, ids: Identities, worker: Worker) -> Schedules:
    """The daily scan: Cloud Scheduler in the user's zone, posting ``{"job": "daily_scan"}`` with an OIDC
    token of the invoker. (User schedules are jobs the laptop makes, outside the stack.)"""
    import pulumi_gcp.cloudscheduler as cloudscheduler

    hour, minute = spec.scan_hour_minute
    job = cloudscheduler.Job(
        "daily-scan",
        project=spec.gcp_project,
        region=spec.region,
        schedule=f"{minute} {hour} * * *",
        time_zone=spec.timezone,
        http_target=cloudscheduler.JobHttpTargetArgs(
            uri=worker.url,
            http_method="POST",
            headers={"Content-Type": "application/json"},
            body=base64.b64encode(
                json.dumps({"job": "daily_scan"}).encode()
            ).decode(),  # the API takes base64
            oidc_token=cloudscheduler.JobHttpTargetOidcTokenArgs(
                service_account_email=ids.invoker_email, audience=worker.url
            ),
        ),
        attempt_deadline=f"{SCAN_DEADLINE_SECONDS}s",
        retry_config=cloudscheduler.JobRetryConfigArgs(retry_count=3),
        opts=scope.opts(depends_on=apis.resources),
    )
    return Schedules(job.name)
