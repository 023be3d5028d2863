"""What deploying Escher on one cloud takes beyond its Pulumi program: the cloud's deploy description.

The driver, the bundle builder, the exporter, the preflight and the credential writers are the same code for
every cloud; what differs is written once per cloud in ``escher.infra.deploy_<cloud>`` as a
:class:`CloudDeploy` and found through the provider registry (the ``deploy`` reference of
:data:`escher.clouds.PROVIDERS`), never by an ``if cloud == ...`` chain:

- the stack configuration (``aws:region``, ``azure:location``, ``gcp:region`` + ``gcp:project``), the default
  region and audit lock mode, the settings the spec needs (GCP: a project);
- the worker bundle's layout: size limits, runtime library, where packages go in the zip, the shims a runtime
  loads, whether dependencies are vendored, and what of the cloud's SDK a worker on another cloud needs to
  scan it;
- the stack outputs' state store (what ``escher destroy`` exports) and secret store (where credentials go),
  what the audit store is called and what is kept when the stack goes;
- the preflight checks, the credentials found on this machine that another cloud's worker reads;
- what ``--plan`` needs to run the program under mocks: idle prices, the worker function's environment, the
  answers of data sources and the outputs a resource type has once created;
- the hooks around ``up`` and ``destroy``: before a redeploy (Azure: the triggers already synced), after ``up``
  (Azure: OneDeploy, the audit lock, the program again), before ``destroy`` (GCP: the user's Cloud Scheduler
  jobs).

This module and the ``deploy_<cloud>`` modules import no SDK and no pulumi: their functions do, when called.
Adding a cloud means a ``deploy_<cloud>`` module and its ``deploy`` reference in the provider registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from escher.infra.program import InfraError

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.infra.credentials import CredentialWriter
    from escher.infra.preflight import PreflightReport
    from escher.infra.spec import ExtensionSpec, LockMode, WorkerEntryPoints
    from escher.state import ObjectStore

__all__ = [
    "MOCK_ACCOUNT",
    "BundleLayout",
    "CloudDeploy",
    "Limit",
    "PlanShape",
    "PostDeployContext",
    "PostDeployStep",
    "UserSchedules",
    "audit_location",
    "deploy_of",
    "deployable",
]


@dataclass(frozen=True)
class Limit:
    """How big a worker bundle the cloud's runtime takes (MB); ``rule`` says where the figures come from."""

    zipped_mb: int | None
    unzipped_mb: int
    rule: str


def _no_shims(requirements: list[str], entry: WorkerEntryPoints) -> dict[str, bytes]:
    return {}


@dataclass(frozen=True)
class BundleLayout:
    """What the cloud's function runtime expects of the worker zip."""

    limit: Limit
    runtime: str  # the runtime library among the ``workers`` extra (a requirement's name prefix)
    site: str = ""  # where the packages go inside the zip ("" is the root)
    vendored: bool = True  # dependencies inside the zip (False: the platform installs requirements.txt)
    # files at the zip root the runtime loads (the function app module, host.json, main.py ...)
    shims: Callable[[list[str], WorkerEntryPoints], dict[str, bytes]] = _no_shims
    # what a worker on another cloud needs of this cloud's SDK extra to scan it (requirement name prefixes)
    scan_packages: tuple[str, ...] = ()


def _no_mock_outputs(typ: str, name: str, inputs: Mapping[str, Any], outputs: dict[str, Any]) -> None:
    return None


MOCK_ACCOUNT = "123456789012"  # the account id ``--plan``'s mocks answer with


@dataclass(frozen=True)
class PlanShape:
    """What ``escher extend CLOUD --plan`` knows of the cloud's resources when it runs the program under mocks."""

    # resource type -> (USD a month for one resource when idle, why); types not named are free (IAM, bindings)
    prices: Mapping[str, tuple[float, str]]
    # the worker function's type, and the path to its environment in that resource's inputs
    worker_function: tuple[str, tuple[str, ...]]
    calls: Mapping[str, Mapping[str, Any]]  # data source (invoke) token -> what the mocks answer
    # plausible outputs of a created resource beyond its inputs: fills ``outputs`` (type, name, inputs, outputs)
    mock_outputs: Callable[[str, str, Mapping[str, Any], dict[str, Any]], None] = _no_mock_outputs
    labels_are_settings: frozenset[str] = frozenset()  # types whose labels are settings, not decoration


# what a person is told about the user schedules, the jobs removed, what is left (with the command)
UserSchedules = tuple[str, list[str], str]
PostDeployStep = tuple[str, Callable[[], dict[str, Any]]]  # (step kind, run it: what it did)


@dataclass
class PostDeployContext:
    """What a cloud's post-deploy steps are handed by the driver after ``up``."""

    spec: ExtensionSpec
    outputs: dict[str, Any]  # a step that runs the program again replaces them
    record: dict[str, Any]  # the cloud's entry in the local record (a step may note what it did there)
    deployer: Callable[[], Any] | None  # the steps' client factory (tests replay there); None: the real one
    # the program again with another spec: (its outputs, its resource changes)
    rerun: Callable[[ExtensionSpec], tuple[dict[str, Any], dict[str, Any]]]


def _no_credentials(env: Mapping[str, str]) -> str | None:
    return None


def _same_spec(spec: ExtensionSpec, record: Mapping[str, Any]) -> ExtensionSpec:
    return spec


def _no_settings_needed(settings: Settings) -> None:
    return None


@dataclass(frozen=True)
class CloudDeploy:
    """One cloud's deploy description (see the module docstring); every field is set by its module."""

    cloud: str
    default_region: str
    default_lock_mode: LockMode
    regions: Callable[[Settings], Sequence[str]]  # the regions (locations) the settings enable
    watches_regions: bool  # the extension watches every enabled region (AWS), not only its own
    stack_config: Callable[[ExtensionSpec], dict[str, str]]  # provider config keys -> values
    bundle: BundleLayout
    retained: str  # what stays in the cloud after destroy, and why
    state_store: Callable[[Mapping[str, Any]], ObjectStore]  # from the stack outputs (KeyError: not named)
    credential_writer: Callable[[Mapping[str, Any], str], CredentialWriter]  # (outputs, name prefix)
    preflight: Callable[[ExtensionSpec, Mapping[str, Any]], PreflightReport]  # (spec, clients for tests)
    audit_location: Callable[[Mapping[str, Any]], str]  # where the locked audit objects stay
    # before destroy: what becomes of the user schedules (``escher schedule add``), said for a person, after
    # removing what the stack does not own (outputs, a client for tests)
    user_schedules: Callable[[Mapping[str, Any], Any], UserSchedules]
    plan: PlanShape  # what --plan needs of the cloud's resources
    # checks the settings hold what the spec needs (raises InfraError saying which setting)
    require_settings: Callable[[Settings], None] = _no_settings_needed
    # the value another cloud's worker needs to reach this cloud, found on this machine (None: not copied)
    local_credentials: Callable[[Mapping[str, str]], str | None] = _no_credentials
    # before up: the spec as this cloud's record of the last deploy changes it
    prepare: Callable[[ExtensionSpec, Mapping[str, Any]], ExtensionSpec] = _same_spec
    # after up, when the outputs name ``post_deploy`` steps: the steps, in order (an unknown one raises)
    post_deploy: Callable[[PostDeployContext], list[PostDeployStep]] | None = None


def audit_location(outputs: Mapping[str, Any], bucket_scheme: str = "") -> str:
    """Where the locked audit objects stay, as the outputs name it (a bare bucket name gets ``bucket_scheme``)."""
    for key in ("audit_url", "audit_bucket", "audit_container", "audit_account"):
        if outputs.get(key):
            value = str(outputs[key])
            return f"{bucket_scheme}://{value}" if bucket_scheme and key == "audit_bucket" else value
    return ""


def deployable() -> tuple[str, ...]:
    """The clouds whose provider has a deploy description (a new cloud may have none yet), in registry order."""
    from escher.clouds import PROVIDERS

    return tuple(name for name, p in PROVIDERS.items() if "deploy" in p.refs)


def deploy_of(cloud: str) -> CloudDeploy:
    """The deploy description of ``cloud``, from the provider registry."""
    from escher.clouds import CLOUDS, PROVIDERS

    if cloud not in PROVIDERS:
        raise InfraError(f"unknown cloud {cloud!r}", hint=f"use one of {', '.join(CLOUDS)}")
    if cloud not in deployable():
        raise InfraError(
            f"Escher cannot be deployed on {PROVIDERS[cloud].title} yet: its provider has no deploy description",
            hint=f"extend one of {', '.join(deployable())}",
        )
    found = PROVIDERS[cloud].load("deploy")
    if not isinstance(found, CloudDeploy):
        raise InfraError(f"the {cloud} provider's deploy reference is not a CloudDeploy", hint="fix its refs")
    return found
