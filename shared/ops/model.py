"""What an operation is: typed metadata (risk, permissions, CLI equivalent, inverse) plus three small functions.

An operation is data. The engine does the rest (plan, execute, verify, audit) the same way for every cloud:

- ``fetch(call) -> state``: read the target's current state (a plain dict) from the cloud, now;
- ``wanted(call, state) -> dict``: the fields that must hold afterwards (subset of the state);
- ``apply(call, state) -> details``: make the change; details (a new snapshot id, ...) go into the audit record.

``converge`` operations (most) are skipped when ``wanted`` already holds: re-running is a successful no-op.
``action`` operations (reboot, reset) have no state to converge to: they run once per plan, then ``wanted``
is what verify proves afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from escher.clouds import CLOUDS, Cloud
from escher.clouds.provider import entry_modules
from escher.errors import EscherError
from escher.registry import Registry

if TYPE_CHECKING:
    from escher.ops.context import CloudContext

__all__ = [
    "OPERATIONS",
    "Call",
    "Cloud",
    "NoParams",
    "OpError",
    "Operation",
    "Params",
    "Risk",
    "Target",
    "TargetNotFoundError",
    "operation",
    "permissions_for",
]

State = dict[str, Any]


class OpError(EscherError):
    """An operation cannot be planned or run as asked."""


class TargetNotFoundError(OpError):
    """The target does not exist (or is not visible with these credentials)."""


class Risk(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Params(BaseModel):
    """Base of every parameters model: strict, so a typo in a parameter name is an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    pass


@dataclass(frozen=True)
class Target:
    """One resource: its cloud id (instance id, bucket, ARM id, GCP resource path) and region if it has one."""

    cloud: Cloud
    resource_id: str
    region: str | None = None

    def __str__(self) -> str:
        return f"{self.resource_id}@{self.region}" if self.region else self.resource_id


@dataclass(frozen=True)
class Call:
    """Everything one per-resource function gets. ``key`` is stable for one plan and target (idempotency)."""

    ctx: CloudContext
    target: Target
    params: Any
    key: str


Fetch = Callable[[Call], State]
Wanted = Callable[[Call, State], State]
Apply = Callable[[Call, State], State | None]
Discover = Callable[["CloudContext", str | None, dict[str, str]], list[Target]]


@dataclass(frozen=True)
class Operation:
    id: str
    description: str
    risk: Risk
    permissions: tuple[str, ...]
    cli: str  # the equivalent CLI command, with {target} and parameter placeholders, for display
    fetch: Fetch
    wanted: Wanted
    apply: Apply
    params: type[Params] = NoParams
    mode: Literal["converge", "action"] = "converge"
    inverse: str | None = None
    reversible: bool = False
    # High and critical operations need a manager's approval unless pre-approved (remediation or template).
    requires_approval: bool | None = None
    discover: Discover | None = None  # select targets by tag; None: only explicit targets
    verify_timeout: float = 300.0  # how long verify waits for the cloud to settle (stopping -> stopped)
    tags: tuple[str, ...] = field(default=())

    @property
    def cloud(self) -> Cloud:
        cloud = self.id.split(".", 1)[0]
        assert cloud in CLOUDS
        return cloud  # type: ignore[return-value]

    @property
    def approval_required(self) -> bool:
        if self.requires_approval is not None:
            return self.requires_approval
        return self.risk in (Risk.high, Risk.critical)

    def parse_params(self, raw: dict[str, Any] | BaseModel | None) -> Params:
        from pydantic import ValidationError

        if isinstance(raw, self.params):
            return raw
        data = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw or {})
        try:
            return self.params.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors()
            )
            raise OpError(
                f"invalid parameters for {self.id}: {problems}",
                hint=f"see 'escher ops show {self.id}' for the parameters it takes",
            ) from None

    def cli_for(self, target: Target, params: Params) -> str:
        values = {
            k: (",".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else v)
            for k, v in params.model_dump().items()
        }
        try:
            return self.cli.format(target=target.resource_id, region=target.region or "", **values)
        except (KeyError, IndexError):
            return self.cli

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cloud": self.cloud,
            "description": self.description,
            "risk": self.risk.value,
            "mode": self.mode,
            "reversible": self.reversible,
            "inverse": self.inverse,
            "requires_approval": self.approval_required,
            "permissions": list(self.permissions),
            "cli": self.cli,
            "selects_by_tag": self.discover is not None,
            "parameters": self.params.model_json_schema(),
        }


OPERATIONS: Registry[Operation] = Registry(
    "operation",
    # each cloud's entry modules, as its provider lists them (escher.clouds.provider)
    modules=entry_modules("operations"),
)


def operation(**kwargs: Any) -> Operation:
    """Declare and register one operation (``operation(id=..., fetch=..., ...)``)."""
    op = Operation(**kwargs)
    return OPERATIONS.add(op.id, op)


def permissions_for(operation_ids: Iterable[str]) -> dict[str, list[str]]:
    """Least privilege for a set of operations: cloud -> sorted, de-duplicated permissions."""
    found: dict[str, set[str]] = {}
    for op_id in operation_ids:
        op = OPERATIONS.get(op_id)
        found.setdefault(op.cloud, set()).update(op.permissions)
    return {cloud: sorted(perms) for cloud, perms in sorted(found.items())}


def subset_holds(state: State, wanted: State) -> bool:
    """True when every wanted field has its wanted value in ``state``."""
    return all(state.get(k) == v for k, v in wanted.items())
