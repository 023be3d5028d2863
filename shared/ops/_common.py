"""Small helpers shared by the per-cloud operation modules."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from escher.ops.model import Call, OpError, TargetNotFoundError

__all__ = [
    "ArmId",
    "GcpPath",
    "arm_wait",
    "flat_tags",
    "missing_as_not_found",
    "parse_arm_id",
    "parse_gcp_path",
    "resource_account",
]


@contextmanager
def missing_as_not_found(call: Call, what: str) -> Iterator[None]:
    """Turn the SDK's 404 / NotFound for the target into :class:`TargetNotFoundError`; re-raise the rest."""
    try:
        yield
    except call.ctx.sdk_errors(call.target.cloud) as exc:
        if call.ctx.is_not_found(call.target.cloud, exc):
            where = f" in {call.target.region}" if call.target.region else ""
            raise TargetNotFoundError(
                f"{what} {call.target.resource_id} was not found{where}",
                hint="check the id and region, and that these credentials can see it",
            ) from exc
        raise


def arm_wait(call: Call, poller: Any, doing: str) -> Any:
    """Wait for an ARM long-running operation (an azure-core ``LROPoller``). When Azure ends it ``Failed`` (or
    refuses it, or still throttles after the SDK's retries), raise :class:`OpError` naming what was being done
    and Azure's own code and message, so the ledger records a failure the user can act on."""
    try:
        return poller.result()
    except call.ctx.sdk_errors("azure") as exc:
        error = getattr(exc, "error", None)
        code = getattr(error, "code", None) or getattr(exc, "status_code", None) or type(exc).__name__
        message = getattr(error, "message", None) or str(getattr(exc, "message", None) or exc)
        message = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
        raise OpError(
            f"Azure could not {doing} {call.target.resource_id}: {code}: {message}",
            hint="do what Azure's message asks (or wait for the operation it names), then run this again: it "
            "reads the resource first, so a change that did happen is not made twice",
        ) from exc


def flat_tags(tags: dict[str, str] | None) -> dict[str, str]:
    """Tags as ``tag:<key>`` fields, so a wanted tag is one field of the state like any other."""
    return {f"tag:{k}": v for k, v in sorted((tags or {}).items())}


@dataclass(frozen=True)
class ArmId:
    subscription: str
    resource_group: str
    name: str
    parent: str | None = None  # e.g. the server of a SQL database, the NSG of a rule


_ARM = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/(?P<provider>[^/]+)/(?P<rest>.+)$",
    re.IGNORECASE,
)


def parse_arm_id(resource_id: str, *types: str) -> ArmId:
    """Parse an ARM id whose type path is ``types`` (``virtualMachines``; ``servers``, ``databases``)."""
    match = _ARM.match(resource_id)
    parts = match.group("rest").split("/") if match else []
    if (
        not match
        or len(parts) != 2 * len(types)
        or [p.lower() for p in parts[::2]] != [t.lower() for t in types]
    ):
        example = "/".join(f"{t}/<name>" for t in types)
        raise OpError(
            f"{resource_id!r} is not an Azure resource id of the expected type",
            hint=f"use /subscriptions/<id>/resourceGroups/<rg>/providers/<provider>/{example}",
        )
    names = parts[1::2]
    return ArmId(match.group("sub"), match.group("rg"), names[-1], names[0] if len(names) > 1 else None)


@dataclass(frozen=True)
class GcpPath:
    project: str
    location: str | None  # zone or region; None for global resources
    name: str


def parse_gcp_path(resource_id: str, kind: str, *, scope: str | None) -> GcpPath:
    """``projects/P/zones/Z/instances/N`` (scope "zones"), ``projects/P/global/firewalls/N`` (scope None)."""
    parts = resource_id.strip("/").split("/")
    ok = len(parts) >= 4 and parts[0] == "projects"
    if ok and scope is None:
        ok = len(parts) == 5 and parts[2] == "global" and parts[3] == kind
        if ok:
            return GcpPath(parts[1], None, parts[4])
    elif ok:
        ok = len(parts) == 6 and parts[2] == scope and parts[4] == kind
        if ok:
            return GcpPath(parts[1], parts[3], parts[5])
    example = (
        f"projects/<project>/{scope}/<{scope[:-1]}>/{kind}/<name>"
        if scope
        else (f"projects/<project>/global/{kind}/<name>")
    )
    raise OpError(f"{resource_id!r} is not a GCP {kind} path", hint=f"use {example}")


def first(items: list[Any], predicate: Callable[[Any], bool]) -> Any:
    return next((i for i in items if predicate(i)), None)


_ACCOUNT_IN_ID = {
    "aws": re.compile(r"^arn:aws[\w-]*:[^:]*:[^:]*:(\d{12}):"),  # an ARN names its account
    "azure": re.compile(r"^/subscriptions/([^/]+)/", re.IGNORECASE),  # an ARM id its subscription
    "gcp": re.compile(r"^(?:(?://|https://)[^/]+/(?:compute/v1/)?)?projects/([^/]+)/"),  # a path its project
}


def resource_account(cloud: str, resource_id: str) -> str | None:
    """The account a resource id names, if it names one: an ARN's AWS account, an ARM id's Azure subscription,
    a GCP resource path's project. None for a bare id (``i-0abc``, a bucket name)."""
    pattern = _ACCOUNT_IN_ID.get(cloud)
    match = pattern.match(resource_id) if pattern else None
    return match.group(1) if match else None
