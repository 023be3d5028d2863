"""GCP event wiring generated from the normalizers: each event kind delivers what a normalizer parses.

Everything reaches one Pub/Sub topic that pushes to the worker (dead letters kept):

- ``api_calls``: Admin Activity audit log entries, through a log sink whose filter names exactly the methods
  the audit normalizers read (``gcp.compute.firewalls_insert`` ...) and leaves out the worker's own service
  account, whose fixes would otherwise come back as events. A failed call of those methods arrives too
  (``gcp.audit.api_call_failed``).
- ``alarms``: a Cloud Monitoring notification channel of type ``pubsub`` (attach it to alerting policies);
  incidents are what ``gcp.monitoring.incident`` parses. Monitoring's service agent may publish.
- ``threat_findings`` / ``security_findings``: a Security Command Center (v2) project notification config;
  SCC grants its own service agent publish on the topic when the config is created (the deployer needs
  ``pubsub.topics.setIamPolicy``). Findings are what ``gcp.scc.finding`` parses. Security Command Center
  must be activated for the project or its organization, else the config is refused.
- ``budgets``: Cloud Billing's budget publisher may publish to the topic; point each budget's
  programmatic notifications at it (a budget belongs to the billing account, not the project).

Audit log entries of other services and other log entries are not routed: no normalizer reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["AUDIT_KINDS", "Wired", "api_call_filter", "audit_methods", "wire_events", "wired_kinds"]

# what each normalizer route needs delivered, by event kind
ROUTE_KINDS: dict[str, str] = {
    "monitoring.incident": "alarms",
    "scc.finding": "security_findings",
    "billing.budget": "budgets",
}
AUDIT_KINDS = ("api_calls",)
FINDING_KINDS = ("threat_findings", "security_findings")
BILLING_PUBLISHER = "serviceAccount:billing-budget-alert@system.gserviceaccount.com"
# an audit methodName may carry an API version prefix (v1.compute.firewalls.insert); the normalizers strip it
_VERSION_PREFIXES = ("", "v1.", "beta.")


def audit_methods() -> list[str]:
    """The audit log methods a specific normalizer reads (``audit:<method>`` routes)."""
    from escher.events._base import NORMALIZERS

    return sorted(
        {
            route.split(":", 1)[1]
            for _, n in NORMALIZERS.items("gcp.")
            for route in n.routes
            if route.startswith("audit:") and route not in ("audit:*", "audit:failed")
        }
    )


def api_call_filter(worker_email: str) -> str:
    """The log sink filter: Admin Activity entries of the normalizers' methods, not the worker's own."""
    methods = [f'"{prefix}{m}"' for m in audit_methods() for prefix in _VERSION_PREFIXES]
    return (
        'logName:"cloudaudit.googleapis.com%2Factivity" '
        f"AND protoPayload.methodName=({' OR '.join(methods)}) "
        f'AND -protoPayload.authenticationInfo.principalEmail="{worker_email}"'
    )


def wired_kinds(kinds: Iterable[str]) -> list[str]:
    return [k for k in kinds if k in (*AUDIT_KINDS, *FINDING_KINDS, "alarms", "budgets")]


def finding_filter(kinds: Iterable[str]) -> str:
    """Active findings; only threats (Event Threat Detection) when security findings are not enabled."""
    chosen = set(kinds)
    return 'state="ACTIVE"' if "security_findings" in chosen else 'state="ACTIVE" AND finding_class="THREAT"'


# -- the Pulumi side -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wired:
    outputs: dict[str, Any]  # the stack outputs the wiring names (events topic, log filter, channel ...)


def wire_events(scope: Any, spec: Any, apis: Any, *, ids: Any, worker: Any) -> Wired:
    """Event sources -> one topic -> a push subscription (OIDC) -> the worker, dead letters to the worker's
    dead-letter topic. ``scope`` is the part's :class:`escher.infra.component.Scope`; ``apis``, ``ids``,
    ``worker`` the parts' outputs (:mod:`escher.infra.parts.gcp`)."""
    import pulumi
    import pulumi_gcp.organizations as organizations
    import pulumi_gcp.pubsub as pubsub

    if not spec.events:
        return Wired({})
    opts = scope.opts(depends_on=apis.resources)
    project = spec.gcp_project
    number = organizations.get_project_output(project_id=project, opts=scope.invoke_opts()).number
    topic = pubsub.Topic("events", project=project, labels=_labels(spec), opts=opts)
    outputs = _sources(spec, topic=topic, worker_email=ids.worker_email, number=number, opts=opts)
    pubsub_agent = pulumi.Output.concat(
        "serviceAccount:service-", number, "@gcp-sa-pubsub.iam.gserviceaccount.com"
    )
    _push_to_worker(opts, spec, topic=topic, ids=ids, worker=worker, pubsub_agent=pubsub_agent)
    outputs["events_topic"] = topic.name
    return Wired(outputs)


def _labels(spec: Any) -> dict[str, str]:
    return {"escher": "extend", "escher-stack": spec.name_prefix}


def _push_to_worker(opts: Any, spec: Any, *, topic: Any, ids: Any, worker: Any, pubsub_agent: Any) -> None:
    """The push subscription (ours, not an Eventarc trigger: only a subscription can dead-letter)."""
    import pulumi_gcp.pubsub as pubsub

    project = spec.gcp_project
    subscription = pubsub.Subscription(
        "to-worker",
        project=project,
        topic=topic.id,
        ack_deadline_seconds=600,
        message_retention_duration="86400s",  # deliveries are retried for up to 24 h
        push_config=pubsub.SubscriptionPushConfigArgs(
            push_endpoint=worker.url,
            oidc_token=pubsub.SubscriptionPushConfigOidcTokenArgs(
                service_account_email=ids.invoker_email, audience=worker.url
            ),
        ),
        retry_policy=pubsub.SubscriptionRetryPolicyArgs(minimum_backoff="10s", maximum_backoff="600s"),
        dead_letter_policy=pubsub.SubscriptionDeadLetterPolicyArgs(
            dead_letter_topic=worker.dead_letter_topic_id, max_delivery_attempts=10
        ),
        expiration_policy=pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
        opts=opts,
    )
    # Pub/Sub's own agent forwards dead letters: it must publish there and acknowledge here
    pubsub.TopicIAMMember(
        "dead-letters-publisher",
        project=project,
        topic=worker.dead_letter_topic,
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


def _sources(spec: Any, *, topic: Any, worker_email: Any, number: Any, opts: Any) -> dict[str, Any]:
    """Declare the sources of the enabled kinds, all publishing to ``topic``; returns outputs to export."""
    import pulumi
    import pulumi_gcp.logging as logging
    import pulumi_gcp.monitoring as monitoring
    import pulumi_gcp.pubsub as pubsub
    import pulumi_gcp.securitycenter as securitycenter

    project = spec.gcp_project
    kinds = set(spec.events)
    outputs: dict[str, Any] = {"events_not_wired": [k for k in spec.events if k not in wired_kinds(kinds)]}

    def may_publish(name: str, member: Any) -> None:
        pubsub.TopicIAMMember(
            name, project=project, topic=topic.name, role="roles/pubsub.publisher", member=member, opts=opts
        )

    if "api_calls" in kinds:
        sink = logging.ProjectSink(
            "audit-logs",
            project=project,
            destination=pulumi.Output.concat("pubsub.googleapis.com/", topic.id),
            filter=worker_email.apply(api_call_filter),
            unique_writer_identity=True,
            opts=opts,
        )
        may_publish("sink-may-publish", sink.writer_identity)
        outputs["log_filter"] = sink.filter
    if "alarms" in kinds:
        channel = monitoring.NotificationChannel(
            "alarms",
            project=project,
            display_name=f"{spec.name_prefix}: Escher worker",
            type="pubsub",
            labels={"topic": topic.id},
            opts=opts,
        )
        may_publish(
            "monitoring-may-publish",
            pulumi.Output.concat(
                "serviceAccount:service-", number, "@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
            ),
        )
        outputs["alarms_notification_channel"] = channel.name
    if kinds & set(FINDING_KINDS):
        config = securitycenter.V2ProjectNotificationConfig(
            "findings",
            project=project,
            config_id=f"{spec.name_prefix}-findings",
            location="global",
            description="Escher: findings to the worker",
            pubsub_topic=topic.id,
            streaming_config=securitycenter.V2ProjectNotificationConfigStreamingConfigArgs(
                filter=finding_filter(kinds)
            ),
            opts=opts,
        )
        outputs["findings_notification_config"] = config.name
    if "budgets" in kinds:
        may_publish("billing-may-publish", BILLING_PUBLISHER)
        outputs["budgets_topic"] = topic.id
    return outputs
