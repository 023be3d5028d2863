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
  (:mod:`escher.extend.schedules_azure`, why this and not a Logic App per schedule).
- Only subscription-level Azure Resource Manager events reach a subscription system topic ("api_calls");
  Monitor alerts, Service Health, Defender (activity log Security) and budgets arrive through the action group.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from escher.infra.component import Extension, Outputs, child, create_extension
from escher.infra.permissions import (
    azure_audit_data_actions,
    azure_state_actions,
    azure_state_data_actions,
    azure_state_write_condition,
    check_no_wildcards,
)
from escher.infra.program import InfraError
from escher.infra.scoping import azure_split_actions
from escher.infra.spec import EVENTS_LOG_PREFIX, ExtensionSpec

if TYPE_CHECKING:
    import pulumi

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
# worker evaluates each schedule in its own zone and runs each slot once (escher.extend.schedules_azure)
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


def _insights(parent: pulumi.Resource, spec: ExtensionSpec, group: Any, tags: dict[str, str]) -> Any:
    """Application Insights on a small Log Analytics workspace (classic resources are retired), capped."""
    import pulumi_azure_native.applicationinsights as applicationinsights
    import pulumi_azure_native.operationalinsights as operationalinsights

    opts = child(parent)
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


def _events_log_expiry(
    parent: pulumi.Resource, spec: ExtensionSpec, group: Any, account: Any, container: Any
) -> None:
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
        opts=child(parent),
    )


def _named_group_scope(subscription_scope: str, named: str, *, own_group: str) -> str:
    """The scope of a resource group the user named, never Escher's own (it holds the audit account)."""
    if named.lower() == own_group.lower():  # Azure resource group names are case-insensitive
        raise InfraError(
            f"[extend] resource_groups names {named!r}, Escher's own resource group: a role assignment there "
            "would let the worker change its own audit and state accounts",
            hint="list only the resource groups your operations target",
        )
    return f"{subscription_scope}/resourceGroups/{named}"


def _build(parent: pulumi.ComponentResource, spec: ExtensionSpec) -> Outputs:
    import pulumi
    import pulumi_azure_native.authorization as authorization
    import pulumi_azure_native.keyvault as keyvault
    import pulumi_azure_native.resources as resources
    import pulumi_azure_native.storage as storage
    import pulumi_azure_native.web as web

    opts = child(parent)
    keep = child(parent, retain_on_delete=True)
    tags = {"escher": "extend", "escher-stack": spec.name_prefix}
    client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    subscription_id: pulumi.Input[str] = spec.azure_subscription_id or client.subscription_id
    tenant_id: pulumi.Input[str] = spec.azure_tenant_id or client.tenant_id
    subscription_scope = pulumi.Output.concat("/subscriptions/", subscription_id)

    group = resources.ResourceGroup("group", location=spec.region, tags=tags, opts=keep)

    def account(name: str, options: pulumi.ResourceOptions) -> storage.StorageAccount:
        return storage.StorageAccount(
            name,
            resource_group_name=group.name,
            location=group.location,
            kind="StorageV2",
            sku=storage.SkuArgs(name="Standard_LRS"),
            allow_blob_public_access=False,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            tags=tags,
            opts=options,
        )

    def container(name: str, acct: storage.StorageAccount, options: pulumi.ResourceOptions) -> Any:
        return storage.BlobContainer(
            name,
            account_name=acct.name,
            resource_group_name=group.name,
            public_access=storage.PublicAccess.NONE,
            opts=options,
        )

    # -- state, audit (WORM), and the Functions host's own account -----------------------------------------
    state_account = account("state", opts)
    state = container("state", state_account, opts)
    _events_log_expiry(parent, spec, group, state_account, state)
    dead_letters = container("dead-letters", state_account, opts)
    audit_account = account("audit", keep)
    audit = container("audit", audit_account, keep)
    storage.BlobContainerImmutabilityPolicy(
        "audit-immutability",
        account_name=audit_account.name,
        container_name=audit.name,
        resource_group_name=group.name,
        immutability_period_since_creation_in_days=spec.audit_retention_days,
        allow_protected_append_writes=True,
        opts=keep,
    )
    host_account = account("host", opts)
    deployments = container("deployments", host_account, opts)
    # the package is deployed by the post-deploy step (OneDeploy into this container; it syncs the triggers)

    # -- credentials: Key Vault with RBAC; values written by the driver, never in Pulumi state --------------
    vault = keyvault.Vault(
        "credentials",
        resource_group_name=group.name,
        location=group.location,
        properties=keyvault.VaultPropertiesArgs(
            tenant_id=tenant_id,
            sku=keyvault.SkuArgs(family="A", name=keyvault.SkuName.STANDARD),
            enable_rbac_authorization=True,
            soft_delete_retention_in_days=7,
        ),
        tags=tags,
        opts=opts,
    )
    # the deploying identity writes the credentials' values after the deploy (RBAC vault: a data role)
    authorization.RoleAssignment(
        "deployer-writes-credentials",
        principal_id=client.object_id,
        role_definition_id=pulumi.Output.concat(
            subscription_scope,
            "/providers/Microsoft.Authorization/roleDefinitions/",
            KEY_VAULT_SECRETS_OFFICER,
        ),
        scope=vault.id,
        opts=opts,
    )
    for cred in spec.credential_names:
        keyvault.Secret(
            f"credential-{cred}",
            resource_group_name=group.name,
            vault_name=vault.name,
            secret_name=f"{spec.name_prefix}-{cred}",
            properties=keyvault.SecretPropertiesArgs(value=pulumi.Output.secret(PLACEHOLDER)),
            opts=child(parent, ignore_changes=["properties"]),
        )

    # -- the Function App (Linux Consumption, Python 3.12, system-assigned identity) -----------------------
    # Flex Consumption (FC1): the current serverless plan (Y1 Linux Consumption is legacy); zero when idle
    plan = web.AppServicePlan(
        "functions-plan",
        resource_group_name=group.name,
        location=group.location,
        kind="functionapp",
        reserved=True,
        sku=web.SkuDescriptionArgs(name="FC1", tier="FlexConsumption"),
        tags=tags,
        opts=opts,
    )
    deployment_container = pulumi.Output.concat(
        "https://", host_account.name, ".blob.core.windows.net/", deployments.name
    )
    insights = _insights(parent, spec, group, tags)
    _, timer_fn = spec.entry_points.azure_functions
    schedule = utc_ncrontab(spec.timezone, spec.daily_scan_at)
    # what escher.pipeline.runtime reads; the identity has no connection string, so the account URL goes along
    account_url = pulumi.Output.concat("https://", state_account.name, ".blob.core.windows.net")
    state_url = pulumi.Output.concat("azblob://", state.name, "?account_url=", account_url)
    # the worker's own letters under worker/ (Event Grid writes its undeliverable events in the same container)
    dead_letter_url = pulumi.Output.concat(
        "azblob://", dead_letters.name, "/", DEAD_LETTER_PREFIX, "?account_url=", account_url
    )
    # the audit container sits in its own account (immutability policy): its own account URL
    audit_account_url = pulumi.Output.concat("https://", audit_account.name, ".blob.core.windows.net")
    audit_url = pulumi.Output.concat("azblob://", audit.name, "?account_url=", audit_account_url)
    settings: dict[str, pulumi.Input[str]] = {
        # (Flex Consumption refuses FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION: the runtime is set
        # in functionAppConfig)
        "AzureWebJobsStorage__accountName": host_account.name,
        # host.json's functionTimeout, set here: the daily scan runs up to 30 minutes
        "AzureFunctionsJobHost__functionTimeout": FUNCTION_TIMEOUT,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": insights.connection_string.apply(lambda c: c or ""),
        "ESCHER_EVENTS_LOG_PREFIX": EVENTS_LOG_PREFIX,
        "ESCHER_EVENTS_LOG_DAYS": str(spec.events_log_days),
        "ESCHER_CLOUD": "azure",
        "ESCHER_STATE_URL": state_url,
        "ESCHER_DEAD_LETTER_URL": dead_letter_url,
        "ESCHER_AUDIT_URL": audit_url,
        "ESCHER_STATE_ACCOUNT": state_account.name,
        "ESCHER_STATE_CONTAINER": state.name,
        "ESCHER_AUDIT_ACCOUNT": audit_account.name,
        "ESCHER_AUDIT_CONTAINER": audit.name,
        "ESCHER_KEY_VAULT": vault.name,
        "ESCHER_TIMEZONE": spec.timezone,
        "ESCHER_DAILY_SCAN_SCHEDULE": schedule,
        "ESCHER_DAILY_SCAN_AT": spec.daily_scan_at,
        "ESCHER_OPERATIONS": ",".join(spec.operations),
    }
    app = web.WebApp(
        "worker",
        resource_group_name=group.name,
        location=group.location,
        kind="functionapp,linux",
        reserved=True,
        server_farm_id=plan.id,
        https_only=True,
        identity=web.ManagedServiceIdentityArgs(type=web.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
        function_app_config=web.FunctionAppConfigArgs(
            deployment=web.FunctionsDeploymentArgs(
                storage=web.FunctionsDeploymentStorageArgs(
                    type="blobContainer",
                    value=deployment_container,
                    authentication=web.FunctionsDeploymentStorageAuthenticationArgs(
                        type="SystemAssignedIdentity"
                    ),
                )
            ),
            runtime=web.FunctionsRuntimeArgs(name="python", version="3.12"),
            scale_and_concurrency=web.FunctionsScaleAndConcurrencyArgs(
                instance_memory_mb=2048, maximum_instance_count=40
            ),
        ),
        site_config=web.SiteConfigArgs(
            ftps_state=web.FtpsState.DISABLED,
            min_tls_version=web.SupportedTlsVersions.SUPPORTED_TLS_VERSIONS_1_2,
            app_settings=[web.NameValuePairArgs(name=k, value=v) for k, v in settings.items()],
        ),
        tags=tags,
        opts=opts,
    )
    principal = app.identity.apply(lambda i: (i.principal_id or "") if i else "")

    # -- least privilege: roles from the enabled operations, one for state, scoped to its resources ---------
    # Reads go to the subscription (the daily scan sees everything). Changes go to the resource groups the
    # user named, else to the subscription, except changes on the providers Escher itself is made of
    # (storage, key vault, ...): Azure RBAC has no deny a customer can write and role-assignment conditions
    # cover data actions only, so those are granted only at named groups, never where the audit account is.
    check_no_wildcards(spec.permissions)
    reads, changes, own_provider_changes = azure_split_actions(spec.permissions)

    def named_scope(named: str) -> pulumi.Output[str]:
        return pulumi.Output.all(subscription_scope, group.name).apply(
            lambda a: _named_group_scope(a[0], named, own_group=a[1])
        )

    def role_name(label: str) -> pulumi.Output[str]:
        # custom role names are unique in the tenant: the subscription and the stack make them so
        return pulumi.Output.concat(
            spec.name_prefix, "-", label, "-", pulumi.get_stack(), "-", subscription_id
        )

    group_scopes = [named_scope(g) for g in spec.azure_resource_groups]
    change_scopes: list[tuple[str, pulumi.Input[str]]] = (
        list(zip(spec.azure_resource_groups, group_scopes, strict=True))
        if group_scopes
        else [("subscription", subscription_scope)]
    )
    granted_changes = changes + (own_provider_changes if group_scopes else [])
    not_granted = [] if group_scopes else own_provider_changes
    roles: list[tuple[str, Any, list[tuple[str, pulumi.Input[str]]]]] = []
    if reads:
        read_role = authorization.RoleDefinition(
            "read-role",
            role_name=role_name("read"),
            description="Escher worker: the reads of the enabled catalogue operations",
            scope=subscription_scope,
            assignable_scopes=[subscription_scope],
            permissions=[authorization.PermissionArgs(actions=reads)],
            opts=opts,
        )
        roles.append(("read", read_role, [("subscription", subscription_scope)]))
    if granted_changes:
        operations_role = authorization.RoleDefinition(
            "operations-role",
            role_name=role_name("operations"),
            description="Escher worker: the changes of the enabled catalogue operations",
            scope=subscription_scope,
            assignable_scopes=[subscription_scope],
            permissions=[authorization.PermissionArgs(actions=granted_changes)],
            opts=opts,
        )
        roles.append(("operations", operations_role, change_scopes))
    state_role = authorization.RoleDefinition(
        "state-role",
        role_name=role_name("state"),
        description="Escher worker: read/write its state, append audit records, read its credentials",
        scope=group.id,
        assignable_scopes=[group.id],
        permissions=[
            authorization.PermissionArgs(
                actions=list(azure_state_actions()), data_actions=list(azure_state_data_actions())
            )
        ],
        opts=opts,
    )
    # the audit account: create new blobs and read them, never overwrite (no blobs/write) nor delete
    audit_role = authorization.RoleDefinition(
        "audit-role",
        role_name=role_name("audit"),
        description="Escher worker: append audit records (create-if-absent), never overwrite or delete",
        scope=group.id,
        assignable_scopes=[group.id],
        permissions=[authorization.PermissionArgs(actions=[], data_actions=list(azure_audit_data_actions()))],
        opts=opts,
    )
    grants: list[tuple[str, pulumi.Input[str], pulumi.Input[str]]] = [
        (label if where == "subscription" else f"{label}-{where}", scope, role.id)
        for label, role, scopes in roles
        for where, scope in scopes
    ]
    grants += [
        ("state", state_account.id, state_role.id),
        ("audit", audit_account.id, audit_role.id),
        ("credentials", vault.id, state_role.id),
        (
            "host",
            host_account.id,
            pulumi.Output.concat(
                subscription_scope,
                "/providers/Microsoft.Authorization/roleDefinitions/",
                STORAGE_BLOB_DATA_OWNER,
            ),
        ),
    ]
    for label, scope, role_id in grants:
        # the state account: the settings and grants the laptop publishes are read-only to the worker
        condition = azure_state_write_condition() if label == "state" else None
        authorization.RoleAssignment(
            f"grant-{label}",
            principal_id=principal,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=role_id,
            scope=scope,
            condition=condition,
            condition_version="2.0" if condition else None,
            opts=opts,
        )

    # -- events: Event Grid (resource changes) and an action group (alerts) -> the function -----------------
    from escher.infra.azure_events import wire_action_group, wire_event_grid

    event_outputs = {
        **wire_event_grid(
            parent,
            spec,
            group=group,
            app=app,
            principal=principal,
            subscription_scope=subscription_scope,
            dead=(state_account.id, dead_letters.name),
        ),
        **wire_action_group(parent, spec, group=group, app=app, subscription_scope=subscription_scope),
    }
    post_deploy = pulumi.Output.all(
        subscription_id, group.name, app.name, audit_account.name, audit.name
    ).apply(
        lambda a: post_deploy_steps(
            subscription=a[0],
            group=a[1],
            app=a[2],
            bundle=spec.bundle_path,
            audit_account=a[3],
            audit_container=a[4],  # the provider names it (autonaming): not "audit"
            lock=spec.lock_mode == "compliance",
            events="api_calls" in spec.events and not spec.azure_triggers_synced,
        )
    )

    return {
        "cloud": "azure",
        "region": spec.region,
        "subscription_id": subscription_id,  # the post-deploy steps address ARM with it
        "resource_group": group.name,
        "state_account": state_account.name,
        "state_container": state.name,
        "state_url": state_url,
        "dead_letter_url": dead_letter_url,
        "audit_account": audit_account.name,
        "audit_container": audit.name,
        "audit_url": audit_url,  # the immutable container: kept on `escher destroy`, which names it
        # user schedules (escher schedule add) run from this every-minute timer, read from the published settings
        "user_schedules_function": USER_SCHEDULES_FUNCTION,
        "user_schedules_timer": f"{USER_SCHEDULES_NCRONTAB} (UTC; each schedule's cron in its own zone)",
        "key_vault": vault.name,
        "worker": app.name,
        "timer_function": timer_fn,
        "daily_scan_schedule_utc": schedule,
        "daily_scan_note": SCHEDULE_NOTE.format(at=spec.daily_scan_at, tz=spec.timezone, cron=schedule),
        **event_outputs,
        "events_not_wired": [k for k in spec.events if k == "resource_events"],
        "post_deploy": post_deploy,
        "audit_lock": "locked by the post-deploy step" if spec.lock_mode == "compliance" else "unlocked",
        "application_insights": insights.name,
        "events_log_prefix": EVENTS_LOG_PREFIX,
        "operations_role_actions": granted_changes,
        "read_role_actions": reads,
        "operations_scopes": [where for where, _ in change_scopes],
        # what the catalogue asks for but is not granted: naming resource groups grants it there
        "operations_not_granted": not_granted,
    }


def extension(name: str, spec: ExtensionSpec, opts: pulumi.ResourceOptions | None = None) -> Extension:
    return create_extension(TYPE_TOKEN, name, spec, _build, opts)
