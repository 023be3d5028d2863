"""``escher extend CLOUD --plan``: what would be deployed, offline, without the Pulumi CLI.

The real program runs in-process under Pulumi mocks in preview mode (no engine, no provider plugins, no
cloud): every resource it declares is recorded with its inputs. Secrets are redacted; the worker policy,
permissions and an idle cost estimate come with it. The global Pulumi settings are reset afterwards.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from escher.infra.costs import CostLine, estimate
from escher.infra.deploy import MOCK_ACCOUNT, deploy_of, deployable

if TYPE_CHECKING:
    from escher.infra.deploy import PlanShape
    from escher.infra.spec import ExtensionSpec

__all__ = ["Plan", "PlannedResource", "run_plan"]

REDACTED = "[redacted]"
# input names whose values are secret, whatever the resource
SECRET_INPUTS = {"value", "secretData", "secretString", "password", "privateKey", "connectionString"}
NOISY_INPUTS = {"tags", "labels", "__defaults"}


@dataclass(frozen=True)
class PlannedResource:
    type: str
    name: str
    settings: dict[str, Any]


@dataclass
class Plan:
    cloud: str
    region: str
    resources: list[PlannedResource]
    permissions: list[str]
    operations: list[str]
    costs: list[CostLine]
    monthly_usd: float
    outputs: dict[str, Any] = field(default_factory=dict)
    # the worker function's environment (where state and dead letters go), secrets redacted
    worker_environment: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# how the Pulumi wire format marks a secret inside a map: {SIG_KEY: SECRET_SIG, "value": ...}
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _redact_value(key: str, value: Any) -> Any:
    if key in SECRET_INPUTS:
        return REDACTED
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return REDACTED
        return {k: _redact_value(k, v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_redact_value(key, v) for v in value]
    if hasattr(value, "path"):  # a FileArchive / FileAsset: show what it points at
        return f"{type(value).__name__}({value.path})"
    return value


# the worker function of each cloud, and where its environment sits in the resource's inputs (each cloud's deploy
# description says)
WORKER_FUNCTIONS = dict(deploy_of(cloud).plan.worker_function for cloud in deployable())
# variable names whose values are secrets whatever their shape (notification URLs carry tokens)
SECRET_NAME = re.compile(
    r"(?i)(^ESCHER_NOTIFY_|CONNECTION_?STRING|(SECRET|TOKEN|PASSWORD|PASSWD|ACCOUNT_?KEY|_KEY)$)"
)


def worker_environment(typ: str, inputs: dict[str, Any]) -> dict[str, str] | None:
    """The environment in a worker function's raw inputs (None for any other resource): Pulumi secrets,
    secret-named variables and secret-shaped values (tokens, URL passwords, ``key=`` parameters) masked.

    Read from the raw inputs, not the redacted settings: Azure app settings are ``{"name", "value"}`` pairs and
    every ``value`` input is masked there."""
    from escher.notify.redact import redact

    path = WORKER_FUNCTIONS.get(typ)
    if path is None:
        return None
    raw: Any = inputs
    for step in path:
        raw = raw.get(step) if isinstance(raw, dict) else None
    if isinstance(raw, list):
        raw = {item.get("name"): item.get("value") for item in raw if isinstance(item, dict)}
    if not isinstance(raw, dict):
        return {}
    out: dict[str, str] = {}
    for name, value in sorted(raw.items(), key=lambda kv: str(kv[0])):
        secret = isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG
        out[str(name)] = REDACTED if secret or SECRET_NAME.search(str(name)) else redact(_text(value))
    return out


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "(known after deploy)" if value is None else json.dumps(value, sort_keys=True, default=str)


# where labels are settings, not decoration (a Pub/Sub notification channel's topic)
LABELS_ARE_SETTINGS = frozenset().union(
    *(deploy_of(cloud).plan.labels_are_settings for cloud in deployable())
)


def _redact(inputs: dict[str, Any], typ: str = "") -> dict[str, Any]:
    noisy = NOISY_INPUTS - {"labels"} if typ in LABELS_ARE_SETTINGS else NOISY_INPUTS
    return {k: _redact_value(k, v) for k, v in sorted(inputs.items()) if k not in noisy}


def _mock_outputs(typ: str, name: str, inputs: dict[str, Any], shape: PlanShape) -> dict[str, Any]:
    """Plausible outputs for a resource, enough for the program's applies to run (``shape``: the cloud's)."""
    outputs = dict(inputs)
    outputs.setdefault("id", f"{name}-id")
    outputs.setdefault("name", inputs.get("name") or f"{name}-mock")
    outputs.setdefault("arn", f"arn:aws:mock:us-east-1:{MOCK_ACCOUNT}:{name}")
    identity = inputs.get("identity")
    if isinstance(identity, dict):
        outputs["identity"] = {**identity, "principalId": f"{name}-principal", "tenantId": "tenant-mock"}
    shape.mock_outputs(typ, name, inputs, outputs)
    return outputs


def run_plan(spec: ExtensionSpec) -> Plan:
    """Run the program for ``spec`` under mocks and describe every resource it would create."""
    from escher.lazy import require

    require("pulumi", "infra")
    import pulumi

    from escher.infra.program import declare

    shape = deploy_of(spec.cloud).plan
    recorded: list[PlannedResource] = []
    outputs: dict[str, Any] = {}
    environment: dict[str, str] = {}

    class PlanMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            inputs = dict(args.inputs)
            recorded.append(PlannedResource(args.typ, args.name, _redact(inputs, args.typ)))
            env = worker_environment(args.typ, inputs)
            if env is not None:
                environment.update(env)
            return f"{args.name}-id", _mock_outputs(args.typ, args.name, inputs, shape)

        def call(
            self, args: pulumi.runtime.MockCallArgs
        ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return dict(shape.calls.get(args.token, {})), []

    # set_mocks builds a Stack whose outputs are futures on this thread's current loop: an asyncio.run() earlier
    # in the process (the console, the MCP server) leaves none set behind it
    import asyncio

    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(PlanMocks(), project="escher", stack=f"plan-{spec.cloud}", preview=True)
    try:
        # runtime.test waits for every registration and apply of the program
        @pulumi.runtime.test  # type: ignore[untyped-decorator, misc]
        def program() -> Any:
            component = declare(spec)
            keys = list(component.outputs)
            return pulumi.Output.all(*component.outputs.values()).apply(
                lambda values: outputs.update(zip(keys, values, strict=True))
            )

        program()
    finally:
        pulumi.runtime.settings.reset_options()

    resources = [r for r in recorded if not r.type.startswith("escher:")]
    lines, total = estimate(r.type for r in resources)
    return Plan(
        cloud=spec.cloud,
        region=spec.region,
        resources=resources,
        permissions=list(spec.permissions),
        operations=list(spec.operations),
        costs=lines,
        monthly_usd=total,
        outputs={k: v for k, v in outputs.items() if v is not None},
        worker_environment=environment,
    )


def short(value: Any, width: int = 90) -> str:
    """One line of a setting for the table."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"
