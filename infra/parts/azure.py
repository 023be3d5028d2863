"""The parts of ``escher:azure:Extension``: state store, audit store, secrets (Key Vault), worker (the Function
App), access (generated roles and their grants); the event wiring is :mod:`escher.infra.azure_events`. Each
returns its typed outputs. The resource group is the Extension's own (everything else lives in it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from escher.clouds.azure.fanout import MAX_DEQUEUE_COUNT, POISON_QUEUE, QUEUE_CONNECTION, SCAN_QUEUE
from escher.infra.azure import (
    DEAD_LETTER_PREFIX,
    FUNCTION_TIMEOUT,
    KEY_VAULT_SECRETS_OFFICER,
    PLACEHOLDER,
    STORAGE_BLOB_DATA_OWNER,
    events_log_expiry,
    insights_component,
    named_group_scope,
    utc_ncrontab,
)
from escher.infra.component import Scope
from escher.infra.permissions import (
    azure_audit_data_actions,
    azure_read_data_actions,
    azure_state_actions,
    azure_state_data_actions,
    azure_state_write_condition,
    check_no_wildcards,
)
from escher.infra.scoping import azure_split_actions
from escher.infra.spec import EVENTS_LOG_PREFIX, ExtensionSpec

if TYPE_CHECKING:
    import pulumi

STORAGE_QUEUE_DATA_CONTRIBUTOR = (
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88"  # built-in: send, read, delete messages
)

__all__ = ["Access", "AuditStore", "Home", "Secrets", "StateStore", "Worker"]


@dataclass(frozen=True)
class Home:
    """What every part is declared in: the resource group, the subscription and the tenant."""

    group: Any  # the ResourceGroup
    subscription_id: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    subscription_scope: pulumi.Output[str]
    deployer_object_id: pulumi.Output[str]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StateStore:
    account: pulumi.Output[str]
    account_id: pulumi.Output[str]
    container: pulumi.Output[str]
    url: pulumi.Output[str]  # azblob://container?account_url=..., what escher.pipeline.runtime reads
    dead_letter_container: pulumi.Output[str]
    dead_letter_url: pulumi.Output[str]


@dataclass(frozen=True)
class AuditStore:
    account: pulumi.Output[str]
    account_id: pulumi.Output[str]
    container: pulumi.Output[str]
    url: pulumi.Output[str]


@dataclass(frozen=True)
class Secrets:
    vault: pulumi.Output[str]
    vault_id: pulumi.Output[str]


@dataclass(frozen=True)
class Worker:
    app: pulumi.Output[str]
    app_id: pulumi.Output[str]
    default_host_name: pulumi.Output[str]
    principal: pulumi.Output[str]
    host_account_id: pulumi.Output[str]
    schedule: str  # the daily scan's NCRONTAB in UTC
    timer_function: str
    insights: pulumi.Output[str]
    scan_queue: pulumi.Output[
        str
    ]  # the organization scan's Storage queue (azqueue://...): one subscription a message
    scan_poison_queue: str  # where the host moves a scan message after MAX_DEQUEUE_COUNT failed deliveries


@dataclass(frozen=True)
class Access:
    read_actions: list[str]
    operations_actions: list[str]
    operations_scopes: list[str]
    not_granted: list[
        str
    ]  # what the catalogue asks for but is not granted (naming resource groups grants it)


def storage_account(name: str, home: Home, opts: pulumi.ResourceOptions) -> Any:
    import pulumi_azure_native.storage as storage

    return storage.StorageAccount(
        name,
        resource_group_name=home.group.name,
        location=home.group.location,
        kind="StorageV2",
        sku=storage.SkuArgs(name="Standard_LRS"),
        allow_blob_public_access=False,
        enable_https_traffic_only=True,
        minimum_tls_version="TLS1_2",
        tags=home.tags,
        opts=opts,
    )


def blob_container(name: str, account: Any, home: Home, opts: pulumi.ResourceOptions) -> Any:
    import pulumi_azure_native.storage as storage

    return storage.BlobContainer(
        name,
        account_name=account.name,
        resource_group_name=home.group.name,
        public_access=storage.PublicAccess.NONE,
        opts=opts,
    )


def state_store(scope: Scope, spec: ExtensionSpec, home: Home) -> StateStore:
    import pulumi

    account = storage_account("state", home, scope.opts())
    state = blob_container("state", account, home, scope.opts())
    events_log_expiry(scope, spec, home.group, account, state)
    dead_letters = blob_container("dead-letters", account, home, scope.opts())
    # the identity has no connection string, so the account URL goes along
    account_url = pulumi.Output.concat("https://", account.name, ".blob.core.windows.net")
    # the worker's own letters under worker/ (Event Grid writes its undeliverable events in the same container)
    dead_letter_url = pulumi.Output.concat(
        "azblob://", dead_letters.name, "/", DEAD_LETTER_PREFIX, "?account_url=", account_url
    )
    return StateStore(
        account=account.name,
        account_id=account.id,
        container=state.name,
        url=pulumi.Output.concat("azblob://", state.name, "?account_url=", account_url),
        dead_letter_container=dead_letters.name,
        dead_letter_url=dead_letter_url,
    )


def audit_store(scope: Scope, spec: ExtensionSpec, home: Home) -> AuditStore:
    """The audit container in its own account under a time-based immutability policy; kept on destroy."""
    import pulumi
    import pulumi_azure_native.storage as storage

    keep = scope.opts(retain_on_delete=True)
    account = storage_account("audit", home, keep)
    audit = blob_container("audit", account, home, keep)
    storage.BlobContainerImmutabilityPolicy(
        "audit-immutability",
        account_name=account.name,
        container_name=audit.name,
        resource_group_name=home.group.name,
        immutability_period_since_creation_in_days=spec.audit_retention_days,
        allow_protected_append_writes=True,
        opts=keep,
    )
    # the audit container sits in its own account (immutability policy): its own account URL
    account_url = pulumi.Output.concat("https://", account.name, ".blob.core.windows.net")
    url = pulumi.Output.concat("azblob://", audit.name, "?account_url=", account_url)
    return AuditStore(account=account.name, account_id=account.id, container=audit.name, url=url)


def secrets(scope: Scope, spec: ExtensionSpec, home: Home) -> Secrets:
    """Key Vault with RBAC; the values are written by the driver, never in Pulumi state."""
    import pulumi
    import pulumi_azure_native.authorization as authorization
    import pulumi_azure_native.keyvault as keyvault

    vault = keyvault.Vault(
        "credentials",
        resource_group_name=home.group.name,
        location=home.group.location,
        properties=keyvault.VaultPropertiesArgs(
            tenant_id=home.tenant_id,
            sku=keyvault.SkuArgs(family="A", name=keyvault.SkuName.STANDARD),
            enable_rbac_authorization=True,
            soft_delete_retention_in_days=7,
        ),
        tags=home.tags,
        opts=scope.opts(),
    )
    # the deploying identity writes the credentials' values after the deploy (RBAC vault: a data role)
    authorization.RoleAssignment(
        "deployer-writes-credentials",
        principal_id=home.deployer_object_id,
        role_definition_id=pulumi.Output.concat(
            home.subscription_scope,
            "/providers/Microsoft.Authorization/roleDefinitions/",
            KEY_VAULT_SECRETS_OFFICER,
        ),
        scope=vault.id,
        opts=scope.opts(),
    )
    for cred in spec.credential_names:
        keyvault.Secret(
            f"credential-{cred}",
            resource_group_name=home.group.name,
            vault_name=vault.name,
            secret_name=f"{spec.name_prefix}-{cred}",
            properties=keyvault.SecretPropertiesArgs(value=pulumi.Output.secret(PLACEHOLDER)),
            opts=scope.opts(ignore_changes=["properties"]),
        )
    return Secrets(vault=vault.name, vault_id=vault.id)


def worker(
    scope: Scope, spec: ExtensionSpec, home: Home, *, state: StateStore, audit: AuditStore, secrets: Secrets
) -> Worker:
    """The Function App (Flex Consumption, Python 3.12, system-assigned identity), its host storage and
    Application Insights. The package is deployed by the post-deploy step (OneDeploy into ``deployments``)."""
    import pulumi
    import pulumi_azure_native.web as web

    host_account = storage_account("host", home, scope.opts())
    deployments = blob_container("deployments", host_account, home, scope.opts())
    # Flex Consumption (FC1): the current serverless plan (Y1 Linux Consumption is legacy); zero when idle
    plan = web.AppServicePlan(
        "functions-plan",
        resource_group_name=home.group.name,
        location=home.group.location,
        kind="functionapp",
        reserved=True,
        sku=web.SkuDescriptionArgs(name="FC1", tier="FlexConsumption"),
        tags=home.tags,
        opts=scope.opts(),
    )
    deployment_container = pulumi.Output.concat(
        "https://", host_account.name, ".blob.core.windows.net/", deployments.name
    )
    insights = insights_component(scope, spec, home.group, home.tags)
    _, timer_fn = spec.entry_points.azure_functions
    schedule = utc_ncrontab(spec.timezone, spec.daily_scan_at)
    settings: dict[str, pulumi.Input[str]] = {
        # (Flex Consumption refuses FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION: the runtime is set
        # in functionAppConfig)
        "AzureWebJobsStorage__accountName": host_account.name,
        # host.json's functionTimeout, set here: the daily scan runs up to 30 minutes
        "AzureFunctionsJobHost__functionTimeout": FUNCTION_TIMEOUT,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": insights.connection_string.apply(lambda c: c or ""),
        **_escher_settings(spec, schedule, state=state, audit=audit, secrets=secrets),
    }
    scan_settings = _scan_queue(scope, home, state)
    settings.update(scan_settings)
    app = _function_app(scope, home, plan, deployment_container, settings)
    return Worker(
        app=app.name,
        app_id=app.id,
        default_host_name=app.default_host_name,
        principal=app.identity.apply(lambda i: (i.principal_id or "") if i else ""),
        host_account_id=host_account.id,
        schedule=schedule,
        timer_function=timer_fn,
        insights=insights.name,
        scan_queue=pulumi.Output.from_input(scan_settings["ESCHER_SCAN_QUEUE_URL"]),
        scan_poison_queue=POISON_QUEUE,
    )


def _scan_queue(scope: Scope, home: Home, state: StateStore) -> dict[str, pulumi.Input[str]]:
    """The organization scan's Storage queue and the host's poison queue, in the state account (free while
    idle), and the app settings that point the queue trigger at it: one message at a time per instance (batch
    size 1, no prefetch), moved to the poison queue after MAX_DEQUEUE_COUNT failed deliveries. (host.json's
    ``extensions.queues``, set here as the function timeout is.)"""
    import pulumi
    import pulumi_azure_native.storage as storage

    for name, queue in (("scan-queue", SCAN_QUEUE), ("scan-poison-queue", POISON_QUEUE)):
        storage.Queue(
            name, account_name=state.account, resource_group_name=home.group.name, queue_name=queue,
            opts=scope.opts(),
        )  # fmt: skip
    endpoint = pulumi.Output.concat("https://", state.account, ".queue.core.windows.net")
    return {
        "ESCHER_SCAN_QUEUE_URL": pulumi.Output.concat("azqueue://", SCAN_QUEUE, "?account_url=", endpoint),
        f"{QUEUE_CONNECTION}__queueServiceUri": endpoint,  # the trigger's connection, by the identity
        "AzureFunctionsJobHost__extensions__queues__batchSize": "1",
        "AzureFunctionsJobHost__extensions__queues__newBatchThreshold": "0",
        "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": str(MAX_DEQUEUE_COUNT),
    }


def _escher_settings(
    spec: ExtensionSpec, schedule: str, *, state: StateStore, audit: AuditStore, secrets: Secrets
) -> dict[str, pulumi.Input[str]]:
    """What escher.pipeline.runtime and the worker read."""
    return {
        "ESCHER_EVENTS_LOG_PREFIX": EVENTS_LOG_PREFIX,
        "ESCHER_EVENTS_LOG_DAYS": str(spec.events_log_days),
        "ESCHER_CLOUD": "azure",
        "ESCHER_STATE_URL": state.url,
        "ESCHER_DEAD_LETTER_URL": state.dead_letter_url,
        "ESCHER_AUDIT_URL": audit.url,
        "ESCHER_STATE_ACCOUNT": state.account,
        "ESCHER_STATE_CONTAINER": state.container,
        "ESCHER_AUDIT_ACCOUNT": audit.account,
        "ESCHER_AUDIT_CONTAINER": audit.container,
        "ESCHER_KEY_VAULT": secrets.vault,
        "ESCHER_TIMEZONE": spec.timezone,
        "ESCHER_DAILY_SCAN_SCHEDULE": schedule,
        "ESCHER_DAILY_SCAN_AT": spec.daily_scan_at,
        "ESCHER_OPERATIONS": ",".join(spec.operations),
    }


def _function_app(
    scope: Scope,
    home: Home,
    plan: Any,
    deployment_container: pulumi.Output[str],
    settings: dict[str, pulumi.Input[str]],
) -> Any:
    import pulumi_azure_native.web as web

    return web.WebApp(
        "worker",
        resource_group_name=home.group.name,
        location=home.group.location,
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
        tags=home.tags,
        opts=scope.opts(),
    )


def access(
    scope: Scope,
    spec: ExtensionSpec,
    home: Home,
    *,
    state: StateStore,
    audit: AuditStore,
    secrets: Secrets,
    worker: Worker,
) -> Access:
    """Least privilege: roles from the enabled operations, one for state, one for audit, scoped to their
    resources, granted to the worker's identity.

    Reads go to the subscription (the daily scan sees everything). Changes go to the resource groups the
    user named, else to the subscription, except changes on the providers Escher itself is made of
    (storage, key vault, ...): Azure RBAC has no deny a customer can write and role-assignment conditions
    cover data actions only, so those are granted only at named groups, never where the audit account is.
    """
    import pulumi

    check_no_wildcards(spec.permissions)
    reads, changes, own_provider_changes = azure_split_actions(spec.permissions)

    def named_scope(named: str) -> pulumi.Output[str]:
        return pulumi.Output.all(home.subscription_scope, home.group.name).apply(
            lambda a: named_group_scope(a[0], named, own_group=a[1])
        )

    group_scopes = [named_scope(g) for g in spec.azure_resource_groups]
    change_scopes: list[tuple[str, pulumi.Input[str]]] = (
        list(zip(spec.azure_resource_groups, group_scopes, strict=True))
        if group_scopes
        else [("subscription", home.subscription_scope)]
    )
    granted_changes = changes + (own_provider_changes if group_scopes else [])
    roles = _operation_roles(scope, spec, home, reads, granted_changes, change_scopes)
    state_role, audit_role = _storage_roles(scope, spec, home)
    grants: list[tuple[str, pulumi.Input[str], pulumi.Input[str]]] = [
        (label if where == "subscription" else f"{label}-{where}", where_scope, role.id)
        for label, role, scopes in roles
        for where, where_scope in scopes
    ]
    grants += [
        ("state", state.account_id, state_role.id),
        # the organization scan's queue: the daily job sends, the trigger reads and deletes (and the poison queue)
        ("scan-queue", state.account_id, _builtin(home, STORAGE_QUEUE_DATA_CONTRIBUTOR)),
        ("audit", audit.account_id, audit_role.id),
        ("credentials", secrets.vault_id, state_role.id),
        (
            "host",
            worker.host_account_id,
            pulumi.Output.concat(
                home.subscription_scope,
                "/providers/Microsoft.Authorization/roleDefinitions/",
                STORAGE_BLOB_DATA_OWNER,
            ),
        ),
    ]
    _grant(scope, grants, worker.principal)
    return Access(
        read_actions=reads,
        operations_actions=granted_changes,
        operations_scopes=[where for where, _ in change_scopes],
        not_granted=[] if group_scopes else own_provider_changes,
    )


def _builtin(home: Home, role: str) -> pulumi.Output[str]:
    import pulumi

    return pulumi.Output.concat(
        home.subscription_scope, "/providers/Microsoft.Authorization/roleDefinitions/", role
    )


def _role_name(spec: ExtensionSpec, home: Home, label: str) -> pulumi.Output[str]:
    """Custom role names are unique in the tenant: the subscription and the stack make them so."""
    import pulumi

    return pulumi.Output.concat(
        spec.name_prefix, "-", label, "-", pulumi.get_stack(), "-", home.subscription_id
    )


def _operation_roles(
    scope: Scope,
    spec: ExtensionSpec,
    home: Home,
    reads: list[str],
    changes: list[str],
    change_scopes: list[tuple[str, pulumi.Input[str]]],
) -> list[tuple[str, Any, list[tuple[str, pulumi.Input[str]]]]]:
    """The read role (at the subscription) and the operations role (at ``change_scopes``), when non-empty."""
    import pulumi_azure_native.authorization as authorization

    roles: list[tuple[str, Any, list[tuple[str, pulumi.Input[str]]]]] = []
    at_subscription: list[tuple[str, pulumi.Input[str]]] = [("subscription", home.subscription_scope)]
    wanted = (
        ("read", reads, "the reads", at_subscription),
        ("operations", changes, "the changes", change_scopes),
    )
    for label, actions, what, scopes in wanted:
        if not actions:
            continue
        role = authorization.RoleDefinition(
            f"{label}-role",
            role_name=_role_name(spec, home, label),
            description=f"Escher worker: {what} of the enabled catalogue operations",
            scope=home.subscription_scope,
            assignable_scopes=[home.subscription_scope],
            # the read role also reads what the scan's collectors read on data planes (Key Vault contents)
            permissions=[
                authorization.PermissionArgs(
                    actions=actions,
                    data_actions=(azure_read_data_actions(actions) if label == "read" else None) or None,
                )
            ],
            opts=scope.opts(),
        )
        roles.append((label, role, scopes))
    return roles


def _storage_roles(scope: Scope, spec: ExtensionSpec, home: Home) -> tuple[Any, Any]:
    import pulumi_azure_native.authorization as authorization

    state_role = authorization.RoleDefinition(
        "state-role",
        role_name=_role_name(spec, home, "state"),
        description="Escher worker: read/write its state, append audit records, read its credentials",
        scope=home.group.id,
        assignable_scopes=[home.group.id],
        permissions=[
            authorization.PermissionArgs(
                actions=list(azure_state_actions()), data_actions=list(azure_state_data_actions())
            )
        ],
        opts=scope.opts(),
    )
    # the audit account: create new blobs and read them, never overwrite (no blobs/write) nor delete
    audit_role = authorization.RoleDefinition(
        "audit-role",
        role_name=_role_name(spec, home, "audit"),
        description="Escher worker: append audit records (create-if-absent), never overwrite or delete",
        scope=home.group.id,
        assignable_scopes=[home.group.id],
        permissions=[authorization.PermissionArgs(actions=[], data_actions=list(azure_audit_data_actions()))],
        opts=scope.opts(),
    )
    return state_role, audit_role


def _grant(
    scope: Scope,
    grants: list[tuple[str, pulumi.Input[str], pulumi.Input[str]]],
    principal: pulumi.Output[str],
) -> None:
    import pulumi_azure_native.authorization as authorization

    for label, where, role_id in grants:
        # the state account: the settings and grants the laptop publishes are read-only to the worker
        condition = azure_state_write_condition() if label == "state" else None
        authorization.RoleAssignment(
            f"grant-{label}",
            principal_id=principal,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=role_id,
            scope=where,
            condition=condition,
            condition_version="2.0" if condition else None,
            opts=scope.opts(),
        )
