"""``escher:azure:Extension``: resource group, state and WORM audit storage, Key Vault, a Python Function App
with a managed identity and generated custom roles, Application Insights, Event Grid wiring for the subscription
and an Azure Monitor action group for alerts (:mod:`escher.infra.azure_events`).

Idle cost: storage accounts (LRS, a few MB), Key Vault standard (per operation, no per-secret fee), a Flex
Consumption (FC1) plan that costs nothing without executions, a capped Log Analytics workspace, Event Grid's
free operations.

- Deploying takes two passes and steps the provider cannot do (output ``post_deploy``, run by the driver):
  OneDeploy of the package (Flex takes code only that way; it syncs the function triggers), the lock of the
  audit immutability policy in compliance mode, then the program again with ``azure_triggers_synced`` so the
  Event Grid subscription can name ``functions/on_event_grid``.
- The audit container lives in its own storage account under a time-based immutability policy; that account
  and the resource group are kept on ``escher destroy`` (a policy with blobs under retention cannot go).
- Time zone: Python functions run only on Linux, and ``WEBSITE_TIME_ZONE`` (which makes NCRONTAB local time,
  DST included) works on Windows and Linux Premium/Dedicated plans but not on Linux Consumption (Y1) or Flex
  Consumption. So the timer fires at every UTC time the user's local ``HH:MM`` takes during the year
  (:func:`utc_ncrontab`: e.g. ``0 0 0,1 * * *`` for 02:00 Europe/Paris, summer and winter), and the worker runs
  the scan only on the firing whose local time is ``ESCHER_DAILY_SCAN_AT`` in ``ESCHER_TIMEZONE``. The
  schedule is the app setting ``ESCHER_DAILY_SCAN_SCHEDULE`` (the timer reads it as
  ``%ESCHER_DAILY_SCAN_SCHEDULE%``).
- User schedules (``escher schedule add``) need no resource per schedule: the function ``user_schedules`` wakes
  every minute (UTC), reads them from the published settings and runs the due ones, each slot once
  (:mod:`escher.clouds.azure.schedules`, why this and not a Logic App per schedule).
- Only subscription-level Azure Resource Manager events reach a subscription system topic ("api_calls");
  Monitor alerts, Service Health, Defender (activity log Security) and budgets arrive through the action group.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from escher.infra.component import (
    Extension,
    Outputs,
    PartOutputs,
    Scope,
    child,
    create_extension,
    declare_part,
    invoke_options,
)
from escher.infra.program import InfraError
from escher.infra.spec import EVENTS_LOG_PREFIX, ExtensionSpec

if TYPE_CHECKING:
    import pulumi

    from escher.infra.parts.azure import Home

__all__ = ["TYPE_TOKEN", "extension", "post_deploy_steps", "utc_ncrontab"]

TYPE_TOKEN = "escher:azure:Extension"
PLACEHOLDER = "unset: written by 'escher extend'"
DEAD_LETTER_PREFIX = "worker"  # in the dead-letters container, beside Event Grid's own undeliverable events
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"  # built-in, for the Functions host account
KEY_VAULT_SECRETS_OFFICER = (
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"  # built-in: the deployer writes credentials
)
FUNCTION_TIMEOUT = "00:30:00"  # Flex Consumption allows more; the daily scan needs minutes, not hours
STORAGE_API = "2023-05-01"
# the timer of user schedules, declared in escher.workers.azure.function_app (the bundle): every minute; the
# worker evaluates each schedule in its own zone and runs each slot once (escher.clouds.azure.schedules)
USER_SCHEDULES_FUNCTION = "user_schedules"
USER_SCHEDULES_NCRONTAB = "0 * * * * *"


def utc_ncrontab(timezone: str, at: str, *, year: int | None = None) -> str:
    """A six-field NCRONTAB in UTC firing at every UTC time ``at`` (local ``HH:MM``) takes in ``year``.

    One field value when the zone has no DST (``0 30 2 * * *``); with DST, each offset's hour (``0 0 0,1 * *
    *``). The worker skips the firings whose local time is not ``at``, so the scan runs once a day, DST or not.
    """
    hour, minute = (int(p) for p in at.split(":"))
    zone = ZoneInfo(timezone)
    year = year or datetime.now(ZoneInfo("UTC")).year
    seen: set[tuple[int, int]] = set()
    for day in range(0, 366, 1):
        local = datetime(year, 1, 1, hour, minute, tzinfo=zone) + timedelta(days=day)
        local = local.replace(hour=hour, minute=minute)  # wall-clock time of that day
        utc = local.astimezone(ZoneInfo("UTC"))
        seen.add((utc.hour, utc.minute))
    hours = ",".join(str(h) for h in sorted({h for h, _ in seen}))
    minutes = ",".join(str(m) for m in sorted({m for _, m in seen}))
    return f"0 {minutes} {hours} * * *"


SCHEDULE_NOTE = (
    "Azure Functions on Linux Consumption ignore WEBSITE_TIME_ZONE: the timer fires at each UTC time of "
    "{at} {tz} over the year ({cron}) and the worker runs the scan only when it is {at} in {tz}"
)


def post_deploy_steps(
    *,
    subscription: str,
    group: str,
    app: str,
    bundle: str,
    audit_account: str,
    lock: bool,
    events: bool,
    audit_container: str = "audit",
) -> list[str]:
    """What the driver runs after ``pulumi up``, in order (the provider cannot do them):

    1. deploy the package with OneDeploy (Flex Consumption takes code only this way); it syncs the triggers,
       after which ``functions/on_event_grid`` exists in ARM;
    2. in compliance mode, lock the audit container's immutability policy (a POST ``lock`` action with the
       policy's ETag; no resource property does it; once locked it can only be extended);
    3. with api_calls, run the program again with the triggers synced: it adds the Event Grid subscription.
    """
    steps = [
        f"az functionapp deployment source config-zip --resource-group {group} --name {app} --src {bundle}"
    ]
    if lock:
        policy = (
            f"https://management.azure.com/subscriptions/{subscription}/resourceGroups/{group}/providers/"
            f"Microsoft.Storage/storageAccounts/{audit_account}/blobServices/default/containers/{audit_container}/"
            f"immutabilityPolicies/default"
        )
        steps.append(
            f'etag=$(az rest --method get --url "{policy}?api-version={STORAGE_API}" --query etag -o tsv) && '
            f'az rest --method post --url "{policy}/lock?api-version={STORAGE_API}" --headers "If-Match=$etag"'
        )
    if events:
        steps.append(
            "escher extend azure (again: the triggers are synced, the Event Grid subscription is added)"
        )
    return steps


def insights_component(scope: Scope, spec: ExtensionSpec, group: Any, tags: dict[str, str]) -> Any:
    """Application Insights on a small Log Analytics workspace (classic resources are retired), capped."""
    import pulumi_azure_native.applicationinsights as applicationinsights
    import pulumi_azure_native.operationalinsights as operationalinsights

    opts = scope.opts()
    workspace = operationalinsights.Workspace(
        "logs",
        resource_group_name=group.name,
        location=group.location,
        sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
        retention_in_days=max(30, spec.log_retention_days),
        workspace_capping=operationalinsights.WorkspaceCappingArgs(daily_quota_gb=0.1),
        tags=tags,
        opts=opts,
    )
    return applicationinsights.Component(
        "insights",
        resource_group_name=group.name,
        location=group.location,
        kind="web",
        application_type="web",
        workspace_resource_id=workspace.id,
        ingestion_mode="LogAnalytics",
        tags=tags,
        opts=opts,
    )


def events_log_expiry(scope: Scope, spec: ExtensionSpec, group: Any, account: Any, container: Any) -> None:
    """The log of generic events (nothing was decided) is deleted after events_log_days."""
    import pulumi
    import pulumi_azure_native.storage as storage

    storage.ManagementPolicy(
        "state-events-log-expiry",
        account_name=account.name,
        resource_group_name=group.name,
        management_policy_name="default",
        policy=storage.ManagementPolicySchemaArgs(
            rules=[
                storage.ManagementPolicyRuleArgs(
                    name="events-log-expiry",
                    enabled=True,
                    type="Lifecycle",
                    definition=storage.ManagementPolicyDefinitionArgs(
                        filters=storage.ManagementPolicyFilterArgs(
                            blob_types=["blockBlob"],
                            prefix_match=[pulumi.Output.concat(container.name, "/", EVENTS_LOG_PREFIX)],
                        ),
                        actions=storage.ManagementPolicyActionArgs(
                            base_blob=storage.ManagementPolicyBaseBlobArgs(
                                delete=storage.DateAfterModificationArgs(
                                    days_after_modification_greater_than=spec.events_log_days
                                )
                            )
                        ),
                    ),
                )
            ]
        ),
        opts=scope.opts(),
    )


def named_group_scope(subscription_scope: str, named: str, *, own_group: str) -> str:
    """The scope of a resource group the user named, never Escher's own (it holds the audit account)."""
    if named.lower() == own_group.lower():  # Azure resource group names are case-insensitive
        raise InfraError(
            f"[extend] resource_groups names {named!r}, Escher's own resource group: a role assignment there "
            "would let the worker change its own audit and state accounts",
            hint="list only the resource groups your operations target",
        )
    return f"{subscription_scope}/resourceGroups/{named}"


def _build(extension: pulumi.ComponentResource, spec: ExtensionSpec) -> Outputs:
    """The Extension in parts: state store, audit store, secrets, worker, access, event wiring."""
    import pulumi

    from escher.infra import azure_events
    from escher.infra.parts import azure as parts

    def part(kind: str, name: str, build: Callable[[Scope], PartOutputs]) -> PartOutputs:
        return declare_part(extension, f"escher:azure:{kind}", name, build)

    home = _home(extension, spec)
    state = part("StateStore", "state-store", lambda s: parts.state_store(s, spec, home))
    audit = part("AuditStore", "audit-store", lambda s: parts.audit_store(s, spec, home))
    secrets = part("Secrets", "secrets", lambda s: parts.secrets(s, spec, home))
    worker = part(
        "Worker", "worker", lambda s: parts.worker(s, spec, home, state=state, audit=audit, secrets=secrets)
    )
    access = part(
        "Access",
        "access",
        lambda s: parts.access(s, spec, home, state=state, audit=audit, secrets=secrets, worker=worker),
    )
    # Event Grid (resource changes) and an action group (alerts) -> the function
    events = part(
        "EventWiring",
        "events",
        lambda s: azure_events.wire_events(s, spec, home=home, worker=worker, state=state),
    )
    post_deploy = pulumi.Output.all(
        home.subscription_id, home.group.name, worker.app, audit.account, audit.container
    )
    return {
        "cloud": "azure",
        "region": spec.region,
        "subscription_id": home.subscription_id,  # the post-deploy steps address ARM with it
        "resource_group": home.group.name,
        "state_account": state.account,
        "state_container": state.container,
        "state_url": state.url,
        "dead_letter_url": state.dead_letter_url,
        "audit_account": audit.account,
        "audit_container": audit.container,
        "audit_url": audit.url,  # the immutable container: kept on `escher destroy`, which names it
        # user schedules (escher schedule add) run from this every-minute timer, read from the published settings
        "user_schedules_function": USER_SCHEDULES_FUNCTION,
        "user_schedules_timer": f"{USER_SCHEDULES_NCRONTAB} (UTC; each schedule's cron in its own zone)",
        "key_vault": secrets.vault,
        "worker": worker.app,
        "scan_queue": worker.scan_queue,  # the organization scan (escher.pipeline.fanout), poison: <queue>-poison
        "timer_function": worker.timer_function,
        "daily_scan_schedule_utc": worker.schedule,
        "daily_scan_note": SCHEDULE_NOTE.format(
            at=spec.daily_scan_at, tz=spec.timezone, cron=worker.schedule
        ),
        **events.outputs,
        "events_not_wired": [k for k in spec.events if k == "resource_events"],
        "post_deploy": post_deploy.apply(lambda a: _post_deploy(spec, *a)),
        "audit_lock": "locked by the post-deploy step" if spec.lock_mode == "compliance" else "unlocked",
        "application_insights": worker.insights,
        "events_log_prefix": EVENTS_LOG_PREFIX,
        "operations_role_actions": access.operations_actions,
        "read_role_actions": access.read_actions,
        "operations_scopes": access.operations_scopes,
        # what the catalogue asks for but is not granted: naming resource groups grants it there
        "operations_not_granted": access.not_granted,
    }


def _home(extension: pulumi.ComponentResource, spec: ExtensionSpec) -> Home:
    """The resource group (the Extension's own child, kept on destroy), the subscription and the tenant."""
    import pulumi
    import pulumi_azure_native.authorization as authorization
    import pulumi_azure_native.resources as resources

    from escher.infra.parts.azure import Home

    tags = {"escher": "extend", "escher-stack": spec.name_prefix}
    client = authorization.get_client_config_output(opts=invoke_options(extension))
    subscription_id: pulumi.Input[str] = spec.azure_subscription_id or client.subscription_id
    group = resources.ResourceGroup(
        "group", location=spec.region, tags=tags, opts=child(extension, retain_on_delete=True)
    )
    return Home(
        group=group,
        subscription_id=subscription_id,
        tenant_id=spec.azure_tenant_id or client.tenant_id,
        subscription_scope=pulumi.Output.concat("/subscriptions/", subscription_id),
        deployer_object_id=client.object_id,
        tags=tags,
    )


def _post_deploy(
    spec: ExtensionSpec, subscription: str, group: str, app: str, audit_account: str, audit_container: str
) -> list[str]:
    return post_deploy_steps(
        subscription=subscription,
        group=group,
        app=app,
        bundle=spec.bundle_path,
        audit_account=audit_account,
        audit_container=audit_container,  # the provider names it (autonaming): not "audit"
        lock=spec.lock_mode == "compliance",
        events="api_calls" in spec.events and not spec.azure_triggers_synced,
    )


def extension(name: str, spec: ExtensionSpec, opts: pulumi.ResourceOptions | None = None) -> Extension:
    return create_extension(TYPE_TOKEN, name, spec, _build, opts)
