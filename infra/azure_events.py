"""Azure event wiring generated from the normalizers: Event Grid for resource changes, an Azure Monitor action
group for alerts, both to the worker's functions.

- ``api_calls``: the subscription's Event Grid system topic (``Microsoft.Resources.Subscriptions``), filtered to
  the event types the ``azure.resources.*`` normalizers read and leaving out the worker's own identity
  (``data.authorization.evidence.principalId``), whose fixes would otherwise come back as events. Only one
  system topic per source is allowed: an existing one ([extend] azure_system_topic, found by ``--check``)
  is reused instead of created.
- The subscription's destination is ``functions/on_event_grid``, which exists in ARM only after the host has
  loaded the package and its triggers are synced; creating it before fails ("Destination endpoint not
  found"). So it is declared only once the driver says the triggers are synced (``spec.azure_triggers_synced``,
  after the post-deploy step that deploys the package, which syncs them); until then the output
  ``post_deploy`` names the steps.
- Alerts (``azure.monitor.*``, ``azure.defender.security_alert``, ``azure.cost.budget_alert``) reach the HTTP
  function ``action_group`` through an action group (common alert schema). Activity-log alert rules send
  Service Health (``health``) and Security (``threat_findings`` / ``security_findings``) entries to it;
  metric and log alerts (``alarms``) and budgets (``budgets``) name the action group in their own rules
  (output ``action_group``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ACTION_GROUP_KINDS", "ACTIVITY_LOG_CATEGORIES", "Wired", "event_grid_types", "wire_events"]

ACTION_GROUP_KINDS = ("alarms", "health", "threat_findings", "security_findings", "budgets")
# activity log category -> the event kinds whose alert rule sends it to the action group
ACTIVITY_LOG_CATEGORIES: dict[str, tuple[str, ...]] = {
    "ServiceHealth": ("health",),
    "Security": ("threat_findings", "security_findings"),
}


def event_grid_types() -> list[str]:
    """The Event Grid event types a specific normalizer reads."""
    from escher.events._base import NORMALIZERS

    return sorted(
        {r for _, n in NORMALIZERS.items("azure.") if n.envelope == "eventgrid" for r in n.routes if r != "*"}
    )


def parse_topic_id(topic_id: str) -> tuple[str, str]:
    """(resource group, topic name) of a system topic's resource id."""
    parts = topic_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    try:
        group = parts[lowered.index("resourcegroups") + 1]
        name = parts[lowered.index("systemtopics") + 1]
    except (ValueError, IndexError):
        from escher.infra.program import InfraError

        raise InfraError(
            f"[extend] azure_system_topic {topic_id!r} is not a system topic's resource id",
            hint="use /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.EventGrid/systemTopics/<name>",
        ) from None
    return group, name


# -- the Pulumi side -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wired:
    outputs: dict[str, Any]  # the stack outputs the wiring names (system topic, action group ...)


def wire_events(scope: Any, spec: Any, *, home: Any, worker: Any, state: Any) -> Wired:
    """Event Grid (resource changes) and an action group (alerts) -> the worker's functions. ``scope`` is the
    part's :class:`escher.infra.component.Scope`; ``home``, ``worker``, ``state`` the parts' outputs
    (:mod:`escher.infra.parts.azure`)."""
    grid = wire_event_grid(
        scope,
        spec,
        group=home.group,
        app_id=worker.app_id,
        principal=worker.principal,
        subscription_scope=home.subscription_scope,
        dead=(state.account_id, state.dead_letter_container),
    )
    alerts = wire_action_group(
        scope, spec, group=home.group, worker=worker, subscription_scope=home.subscription_scope
    )
    return Wired({**grid, **alerts})


def wire_event_grid(
    scope: Any, spec: Any, *, group: Any, app_id: Any, principal: Any, subscription_scope: Any, dead: Any
) -> dict[str, Any]:
    import pulumi_azure_native.eventgrid as eventgrid

    opts = scope.opts()
    if "api_calls" not in spec.events:
        return {}
    if spec.azure_system_topic:
        topic_group, topic_name = parse_topic_id(spec.azure_system_topic)
        outputs: dict[str, Any] = {"system_topic": spec.azure_system_topic, "system_topic_reused": True}
    else:
        topic = eventgrid.SystemTopic(
            "subscription-events",
            resource_group_name=group.name,
            location="global",
            source=subscription_scope,
            topic_type="Microsoft.Resources.Subscriptions",
            tags={"escher": "extend", "escher-stack": spec.name_prefix},
            opts=opts,
        )
        topic_group, topic_name = group.name, topic.name
        outputs = {"system_topic": topic.id, "system_topic_reused": False}
    if not spec.azure_triggers_synced:
        outputs["event_grid_subscription"] = "pending: created after the post-deploy step syncs the triggers"
        return outputs
    events_fn = spec.entry_points.azure_functions[0]
    eventgrid.SystemTopicEventSubscription(
        "to-worker",
        resource_group_name=topic_group,
        system_topic_name=topic_name,
        destination=eventgrid.AzureFunctionEventSubscriptionDestinationArgs(
            endpoint_type="AzureFunction",
            resource_id=app_id.apply(lambda i: f"{i}/functions/{events_fn}"),
            max_events_per_batch=1,
        ),
        filter=eventgrid.EventSubscriptionFilterArgs(
            included_event_types=event_grid_types(),
            advanced_filters=[
                eventgrid.StringNotInAdvancedFilterArgs(
                    operator_type="StringNotIn",
                    key="data.authorization.evidence.principalId",
                    values=[principal],
                )
            ],
        ),
        retry_policy=eventgrid.RetryPolicyArgs(max_delivery_attempts=30, event_time_to_live_in_minutes=1440),
        dead_letter_destination=eventgrid.StorageBlobDeadLetterDestinationArgs(
            endpoint_type="StorageBlob", resource_id=dead[0], blob_container_name=dead[1]
        ),
        opts=opts,
    )
    outputs["event_grid_subscription"] = "created"
    return outputs


def wire_action_group(
    scope: Any, spec: Any, *, group: Any, worker: Any, subscription_scope: Any
) -> dict[str, Any]:
    import pulumi
    import pulumi_azure_native.monitor as monitor

    opts = scope.opts()
    kinds = [k for k in spec.events if k in ACTION_GROUP_KINDS]
    if not kinds:
        return {}
    tags = {"escher": "extend", "escher-stack": spec.name_prefix}
    function = spec.entry_points.azure_action_group
    route = spec.entry_points.azure_action_group_route
    action_group = monitor.ActionGroup(
        "alerts",
        resource_group_name=group.name,
        location="global",
        group_short_name=spec.name_prefix[:12],
        enabled=True,
        azure_function_receivers=[
            monitor.AzureFunctionReceiverArgs(
                name="escher-worker",
                function_app_resource_id=worker.app_id,
                function_name=function,
                http_trigger_url=pulumi.Output.all(worker.default_host_name, worker.app).apply(
                    lambda a: f"https://{a[0] or a[1] + '.azurewebsites.net'}/api/{route}"
                ),
                use_common_alert_schema=True,
            )
        ],
        tags=tags,
        opts=opts,
    )
    for category, enabling in ACTIVITY_LOG_CATEGORIES.items():
        if not set(enabling) & set(kinds):
            continue
        monitor.ActivityLogAlert(
            f"activity-{category.lower()}",
            resource_group_name=group.name,
            location="global",
            scopes=[subscription_scope],
            enabled=True,
            description=f"Escher: {category} activity log entries to the worker",
            condition=monitor.AlertRuleAllOfConditionArgs(
                all_of=[monitor.AlertRuleAnyOfOrLeafConditionArgs(field="category", equals=category)]
            ),
            actions=monitor.ActionListArgs(
                action_groups=[monitor.ActionGroupArgs(action_group_id=action_group.id)]
            ),
            tags=tags,
            opts=opts,
        )
    return {"action_group": action_group.id}
