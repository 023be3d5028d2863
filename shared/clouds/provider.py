"""One provider per cloud: what Escher knows about a cloud, registered once.

A cloud lives in one package, ``escher.clouds.<name>``: its client module (the package itself: SDK clients,
error mapping, regions), collector, scan (``scan``, ``all_accounts``, ``check_regions``), checks
(``checks/``), operations (``ops/``), event normalizers, state backend, secret reader (``secrets``), cost
source (``cost``), watch feed (``feed``), account listing (``accounts``), user schedules (``schedules``) and
doctor checks (``doctor``). A :class:`Provider` names its SDK (the top-level modules it owns and the pip
extra that installs them), the entry modules the registries load, its worker (the one module outside the
package), facts the generic code asks (account and region forms, the setting its billing needs, the
operation that stops a machine) and where its pieces live as ``"module:attribute"`` references that are
imported only when asked for. So this module imports no SDK and no Escher module of any cloud;
``tests/unit/test_provider_boundaries.py`` checks that a cloud SDK is imported only by a module its provider
owns, ``tests/unit/test_cloud_packages.py`` that nothing outside a cloud's package is named for it or loads
two clouds, and that a fourth cloud is one package plus one entry here.

    from escher.clouds import PROVIDERS, CLOUDS, provider

    provider("aws").sdk_module()          # escher.clouds.aws: client(), account_session(), translate(), ...
    provider("gcp").load("state_backend")  # escher.clouds.gcp.state.GcsStore

Adding a cloud is one more package in ``escher.clouds``, one more entry in :data:`PROVIDERS` and its name in
:data:`Cloud` (and, if it has settings, its section in ``escher.config``).
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal, cast

from escher.errors import NotFoundError

__all__ = [
    "CLOUDS",
    "PROVIDERS",
    "AccountListing",
    "Cloud",
    "Provider",
    "UnknownCloudError",
    "enabled_clouds",
    "entry_modules",
    "one_of",
    "owner_of",
    "provider",
    "providers_for",
    "sdk_owner",
    "state_provider",
]

# The one place the cloud names are spelled; pydantic models and typer options import this Literal.
# tests/unit/test_provider_boundaries.py checks that it and PROVIDERS agree.
Cloud = Literal["aws", "azure", "gcp"]


class UnknownCloudError(NotFoundError):
    """A cloud name no provider has."""


@dataclass(frozen=True, slots=True)
class AccountListing:
    """What ``escher accounts list`` shows of one cloud (its provider's ``account_listing(settings)``)."""

    title: str  # "AWS accounts (role: OrganizationAccountAccessRole)"
    columns: tuple[str, ...]  # the table's columns, keys of each row
    rows: list[dict[str, str]]
    data: dict[str, Any] = field(default_factory=dict)  # the settings the list came from, for --output json
    none_found: str = ""  # what to check when the list is empty


@dataclass(frozen=True, slots=True)
class Provider:
    """A cloud as Escher sees it. References are ``"module:attribute"`` strings, imported on :meth:`load`."""

    name: str
    title: str
    extra: str  # pip install 'escher[<extra>]'
    sdk: tuple[str, ...]  # top-level modules of the cloud's SDK (``google.protobuf`` is generic: see below)
    sdk_title: str  # "AWS SDK": how an error names the SDK
    sdk_settings: str  # where the SDK reads its settings, for hints
    account_kind: str  # what one account is called: profile/role, subscription, project
    account_word: str  # the same in one word, in messages ("subscription 1234: ...")
    region_kind: str  # "region" or "location"
    # Escher modules of this cloud outside its package ``escher.clouds.<name>`` (the worker in ``workers/``):
    # names, or fnmatch patterns. Everything else of the cloud lives in the package.
    modules: tuple[str, ...]
    # entry modules the registries load, named inside the package: checks in ``checks/``, operations in
    # ``ops/``, event normalizers beside the client module
    checks: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    normalizers: tuple[str, ...] = ()
    refs: dict[str, str] = field(default_factory=dict)  # role -> "module:attribute"
    state_schemes: tuple[str, ...] = ()  # URL schemes of the state backend (s3://, gs://, az://)
    state_example: str = ""  # a state URL, for hints
    infra_component: str = ""  # the Pulumi component type of the cloud's extension
    # the setting of the cloud's config section its billing needs ("" for none): no cost sync without it
    billing_setting: str = ""
    account_pattern: str = ""  # what one account id looks like (a regular expression), for --account ID
    account_example: str = ""  # the same in words, for the error when an id matches no cloud
    region_env: tuple[str, ...] = ()  # what the SDK reads when nothing else names a region
    region_pattern: str = ""  # what a region name looks like (a regular expression), for --region
    region_example: str = ""  # one region name, for hints
    # a target's id names its region (an ARM id carries its resource group and location): no separate region
    region_in_id: bool = False
    stop_machine: str = ""  # the operation that stops a virtual machine (the alert banners' Stop button)
    short_title: str = ""  # the name in a short message ("runs in AWS/GCP"); the title when empty

    @property
    def label(self) -> str:
        """The cloud's name in a short message: ``GCP`` where the title is ``Google Cloud``."""
        return self.short_title or self.title

    def section(self, settings: Any) -> Any:
        """The cloud's section of the settings (``[aws]``), None when the config has none for it."""
        return getattr(settings, self.name, None)

    def enabled(self, settings: Any) -> bool:
        """True when the config has the cloud's section and it is enabled."""
        return bool(getattr(self.section(settings), "enabled", False))

    @property
    def client_module(self) -> str:
        """The module that builds this cloud's SDK clients and maps its errors."""
        return f"escher.clouds.{self.name}"

    def entry_modules(self, kind: str) -> list[str]:
        """Dotted names of this cloud's ``checks``, ``operations`` or ``normalizers`` entry modules."""
        folder = {"checks": ".checks", "operations": ".ops", "normalizers": ""}[kind]
        return [f"{self.client_module}{folder}.{name}" for name in getattr(self, kind)]

    def sdk_module(self) -> ModuleType:
        """``escher.clouds.<name>`` (imports no SDK itself: its functions do, when called)."""
        return importlib.import_module(self.client_module)

    def load(self, role: str) -> Any:
        """The object a reference names (``state_backend``, ``cost_source``, ``secrets_backend``, ...)."""
        try:
            ref = self.refs[role]
        except KeyError:
            raise NotFoundError(
                f"the {self.title} provider has no {role!r}", hint=f"it has {', '.join(sorted(self.refs))}"
            ) from None
        module, _, attribute = ref.partition(":")
        target: Any = importlib.import_module(module)
        for part in attribute.split(".") if attribute else ():
            target = getattr(target, part)
        return target

    def owns(self, module: str) -> bool:
        """True when ``module`` (a dotted Escher module name) is one of this cloud's."""
        return (
            module == self.client_module
            or module.startswith(self.client_module + ".")
            or any(
                module == pattern or module.startswith(pattern + ".") or fnmatch.fnmatchcase(module, pattern)
                for pattern in self.modules
            )
        )

    def owns_sdk(self, module: str) -> bool:
        """True when ``module`` (an imported name such as ``botocore.exceptions``) is part of this SDK."""
        return any(module == top or module.startswith(top + ".") for top in self.sdk) and not _generic(module)

    def translate(self, exc: BaseException) -> Any:
        """The cloud's ``CloudError`` for one of its SDK's exceptions (None for anything else)."""
        return self.sdk_module().translate(exc)

    def errors(self) -> tuple[type[BaseException], ...]:
        """The SDK's error types (what a call raises once the SDK's retries gave up)."""
        found: tuple[type[BaseException], ...] = self.sdk_module().errors()
        return found

    def cost_source(self, settings: Any) -> Any:
        """This cloud's billing source, configured from ``settings`` (its class's ``from_settings``)."""
        return self.load("cost_source").from_settings(settings)

    def regions(self) -> set[str]:
        """The region (location) names Escher knows for this cloud."""
        known = self.load("regions")
        return set(known() if callable(known) else known)


# Parts of the ``google`` namespace that are not Google Cloud: protobuf is used by generic libraries too.
_GENERIC = ("google.protobuf",)


def _generic(module: str) -> bool:
    return any(module == g or module.startswith(g + ".") for g in _GENERIC)


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            name="aws",
            title="AWS",
            extra="aws",
            sdk=("boto3", "botocore", "s3transfer"),
            sdk_title="AWS SDK",
            sdk_settings="AWS_* variables and ~/.aws/config",
            account_kind="account (profile or assumed role)",
            account_word="account",
            region_kind="region",
            modules=("escher.workers.aws",),
            checks=("storage", "compute", "iam", "logging", "cis"),
            operations=("ec2", "ebs_encrypt", "s3", "rds", "lambda_", "tagging"),
            normalizers=("events", "events_services", "events_budgets"),
            refs={
                "session": "escher.clouds.aws:account_session",
                "client": "escher.clouds.aws:client",
                "accounts": "escher.clouds.aws:list_accounts",
                "regions": "escher.clouds.aws:known_regions",
                "check_regions": "escher.clouds.aws:check_regions",
                "state_backend": "escher.clouds.aws.state:S3Store",
                "secrets_backend": "escher.clouds.aws.secrets:SsmSecretReader",
                "cost_source": "escher.clouds.aws.cost:AwsCostSource",
                "watch": "escher.clouds.aws.feed:watch_sources",
                "collector": "escher.clouds.aws.collect",
                "doctor": "escher.clouds.aws.doctor",
                "schedules": "escher.clouds.aws.schedules",
                "scan": "escher.clouds.aws.scan:scan",
                "act_in": "escher.clouds.aws.accounts:act_in",
                "scan_regions": "escher.clouds.aws.scan:check_regions",
                "all_accounts": "escher.clouds.aws.scan:all_accounts",
                "account_listing": "escher.clouds.aws.accounts:account_listing",
                "infra": "escher.infra.aws:extension",
                "deploy": "escher.infra.deploy_aws:DEPLOY",
            },
            state_schemes=("s3",),
            state_example="s3://bucket/prefix",
            infra_component="escher:aws:Extension",
            account_pattern=r"\d{12}",
            account_example="an AWS account id (12 digits, such as 111122223333)",
            region_env=("AWS_REGION", "AWS_DEFAULT_REGION"),
            region_pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$",  # us-east-1, us-gov-west-1
            region_example="us-east-1",
            stop_machine="aws.ec2.stop_instances",
        ),
        Provider(
            name="azure",
            title="Azure",
            extra="azure",
            sdk=("azure", "msal"),
            sdk_title="Azure SDK",
            sdk_settings="AZURE_* variables",
            account_kind="subscription",
            account_word="subscription",
            region_kind="location",
            modules=("escher.workers.azure",),
            checks=("resources", "cis"),
            operations=("compute", "network", "storage", "sql", "functions", "tagging"),
            normalizers=("events",),
            refs={
                "session": "escher.clouds.azure:credential",
                "accounts": "escher.clouds.azure.accounts:list_subscriptions",
                "client": "escher.clouds.azure:mgmt_client",
                "regions": "escher.clouds.azure:LOCATIONS",
                "check_regions": "escher.clouds.azure:check_locations",
                "state_backend": "escher.clouds.azure.state:AzureBlobStore",
                "secrets_backend": "escher.clouds.azure.secrets:KeyVaultSecretReader",
                "cost_source": "escher.clouds.azure.cost:AzureCostSource",
                "watch": "escher.clouds.azure.feed:watch_sources",
                "collector": "escher.clouds.azure.collect",
                "doctor": "escher.clouds.azure.doctor",
                "schedules": "escher.clouds.azure.schedules",
                "scan": "escher.clouds.azure.scan:scan",
                "act_in": "escher.clouds.azure.accounts:act_in",
                "scan_regions": "escher.clouds.azure.scan:check_regions",
                "all_accounts": "escher.clouds.azure.scan:all_accounts",
                "account_listing": "escher.clouds.azure.accounts:account_listing",
                "infra": "escher.infra.azure:extension",
                "deploy": "escher.infra.deploy_azure:DEPLOY",
            },
            state_schemes=("az", "azure"),
            state_example="az://container/prefix",
            infra_component="escher:azure:Extension",
            account_pattern=r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}",
            account_example="an Azure subscription id (a GUID)",
            region_env=("AZURE_LOCATION",),
            region_pattern=r"^[a-z][a-z0-9]{2,30}$",  # westeurope, eastus2
            region_example="westeurope",
            region_in_id=True,
            stop_machine="azure.compute.deallocate_vm",
            billing_setting="subscription_id",
        ),
        Provider(
            name="gcp",
            title="Google Cloud",
            extra="gcp",
            sdk=("google", "googleapiclient", "httplib2"),
            sdk_title="Google Cloud SDK",
            sdk_settings="GOOGLE_* / CLOUDSDK_* variables",
            account_kind="project",
            account_word="project",
            region_kind="region",
            modules=("escher.workers.gcp",),
            checks=("resources", "cis"),
            operations=("compute", "storage", "sql", "run", "tagging"),
            normalizers=("events",),
            refs={
                "session": "escher.clouds.gcp:credentials",
                "accounts": "escher.clouds.gcp.accounts:list_projects",
                "client": "escher.clouds.gcp:compute_client",
                "regions": "escher.clouds.gcp:REGIONS",
                "check_regions": "escher.clouds.gcp:check_regions",
                "state_backend": "escher.clouds.gcp.state:GcsStore",
                "secrets_backend": "escher.clouds.gcp.secrets:SecretManagerReader",
                "cost_source": "escher.clouds.gcp.cost:GcpBillingSource",
                "watch": "escher.clouds.gcp.feed:watch_sources",
                "collector": "escher.clouds.gcp.collect",
                "doctor": "escher.clouds.gcp.doctor",
                "schedules": "escher.clouds.gcp.schedules",
                "scan": "escher.clouds.gcp.scan:scan",
                "act_in": "escher.clouds.gcp.accounts:act_in",
                "scan_regions": "escher.clouds.gcp.scan:check_regions",
                "all_accounts": "escher.clouds.gcp.scan:all_accounts",
                "account_listing": "escher.clouds.gcp.accounts:account_listing",
                "infra": "escher.infra.gcp:extension",
                "deploy": "escher.infra.deploy_gcp:DEPLOY",
            },
            state_schemes=("gs", "gcs"),
            state_example="gs://bucket/prefix",
            infra_component="escher:gcp:Extension",
            account_pattern=r"[a-z][a-z0-9-]{4,28}[a-z0-9]",
            account_example="a GCP project id (such as acme-prod)",
            region_env=("CLOUDSDK_COMPUTE_REGION", "GOOGLE_CLOUD_REGION"),
            region_pattern=r"^[a-z]+-[a-z]+\d$",  # europe-west1, us-central1
            region_example="europe-west1",
            stop_machine="gcp.compute.stop_instance",
            short_title="GCP",
            billing_setting="billing_export_table",
        ),
    )
}

# the registry's order (aws, azure, gcp): the order clouds are listed and run in everywhere
CLOUDS = cast("tuple[Cloud, ...]", tuple(PROVIDERS))


def provider(name: str) -> Provider:
    """The provider of ``name`` (``aws``, ``azure``, ``gcp``)."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise UnknownCloudError(f"no cloud named {name!r}", hint=f"use {one_of()}") from None


def one_of(names: Iterable[str] = ()) -> str:
    """``aws, azure or gcp``: the clouds (all by default) as a hint lists them."""
    listed = list(names) or list(CLOUDS)
    return listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} or {listed[-1]}"


def owner_of(module: str) -> Provider | None:
    """The provider a dotted Escher module belongs to, if any."""
    return next((p for p in PROVIDERS.values() if p.owns(module)), None)


def sdk_owner(imported: str) -> Provider | None:
    """The provider whose SDK an imported module name is part of (None: not a cloud SDK)."""
    return next((p for p in PROVIDERS.values() if p.owns_sdk(imported)), None)


def providers_for(names: Iterable[str]) -> list[Provider]:
    """Providers in registry order, for the clouds among ``names``."""
    wanted = set(names)
    return [p for p in PROVIDERS.values() if p.name in wanted]


def entry_modules(kind: str) -> dict[str, list[str]]:
    """cloud -> its ``checks``/``operations``/``normalizers`` entry modules: what a registry indexes."""
    return {p.name: p.entry_modules(kind) for p in PROVIDERS.values()}


def enabled_clouds(settings: Any) -> list[str]:
    """The clouds the config enables, in registry order (a cloud with no section in the config is not)."""
    return [p.name for p in PROVIDERS.values() if p.enabled(settings)]


def state_provider(scheme: str) -> Provider | None:
    """The provider whose state backend a URL scheme names (``s3``, ``gs``, ``az``, ...)."""
    return next((p for p in PROVIDERS.values() if scheme in p.state_schemes), None)
