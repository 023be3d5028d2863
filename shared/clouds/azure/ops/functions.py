"""Azure Functions: start, stop and restart a function app; swap a deployment slot back. Targets are ARM ids
(``/subscriptions/S/resourceGroups/RG/providers/Microsoft.Web/sites/<app>``).

What the API offers (azure-rest-api-specs, Microsoft.Web WebApps.json, api-version :data:`API_VERSION`):
``POST .../sites/{name}/start``, ``/stop`` and ``/restart`` (200, no body, no long-running operation), and the
site's ``properties.state`` (``Running`` / ``Stopped``) read by ``GET .../sites/{name}``. A stopped function app
runs no trigger and answers HTTP with 403; on a Consumption or Flex plan nothing is billed while it is stopped.

No azure-mgmt-web is installed: the requests go through an installed management client's pipeline
(``send_request``: the same credential, retry policy for 429/5xx with Retry-After, and transport), as the scan's
documented ARM reads do. Verify reads ``state`` back; a restart is an action whose proof is the app ``Running``
again. The app's tags ride in the state, so a production app needs an approval under the production rule.

Rolling back a failed deployment (:data:`azure.functions.swap_slot`): a deployment that went out by a slot swap
(staging -> production) left the last good build in the staging slot, so swapping the same two slots again puts
it back (what the Functions docs call swapping back). ``POST .../sites/{name}/slotsswap`` with ``CsmSlotEntity``
(``targetSlot``, ``preserveVnet``) swaps a slot with production; it is a long-running operation (202 and a
``Location`` to poll until 200; a failed swap answers an ARM error there and leaves both slots as they were).
The site's read-only ``properties.slotSwapStatus`` (``timestampUtc``, ``sourceSlotName``,
``destinationSlotName``) says which swap happened last and when: the proof that this one did.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from pydantic import Field

from escher.lazy import require
from escher.ops._common import flat_tags, missing_as_not_found, parse_arm_id
from escher.ops.model import Call, OpError, Params, Risk, Target, operation

if TYPE_CHECKING:
    from escher.ops.context import CloudContext

API_VERSION = "2024-11-01"
SITE = ("sites",)
READ = "Microsoft.Web/sites/read"


def _send(
    ctx: CloudContext,
    subscription: str,
    method: str,
    path: str,
    *,
    next_link: bool = False,
    body: Any = None,
) -> Any:
    """One ARM request through an installed management client's pipeline; an HTTP error is raised as
    azure-core's ``HttpResponseError`` (a 404 is the target's not-found). A ``next_link`` (or an operation's
    monitor URL) carries its own query."""
    rest = require("azure.core.rest", "azure")
    client = ctx.azure("compute", subscription)
    params = None if next_link else {"api-version": API_VERSION}
    response = client.send_request(rest.HttpRequest(method, path, params=params, json=body))
    response.raise_for_status()
    return response


def _site(call: Call) -> dict[str, Any]:
    arm = parse_arm_id(call.target.resource_id, *SITE)
    if not call.target.resource_id.lower().split("/providers/", 1)[1].startswith("microsoft.web/"):
        raise OpError(
            f"{call.target.resource_id!r} is not a Microsoft.Web site id",
            hint="use /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<app>",
        )
    with missing_as_not_found(call, "function app"):
        site: dict[str, Any] = _send(call.ctx, arm.subscription, "GET", call.target.resource_id).json()
    kind = (site.get("kind") or "").lower()
    if "functionapp" not in kind.split(","):
        raise OpError(
            f"{call.target.resource_id} is an App Service app of kind {kind or 'app'!r}, not a function app",
            hint="these operations act on function apps only; 'az webapp stop|start|restart' does the same for "
            "a web app",
        )
    return site


def fetch_app(call: Call) -> dict[str, Any]:
    site = _site(call)
    props = site.get("properties") or {}
    return {
        "state": props.get("state"),
        "kind": (site.get("kind") or "").lower(),
        **flat_tags(site.get("tags")),
    }


def discover_apps(ctx: CloudContext, region: str | None, tags: dict[str, str]) -> list[Target]:
    """Function apps of the configured subscription with every tag in ``tags`` (in location ``region``)."""
    subscription = ctx.azure_subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID")
    if not subscription:
        raise OpError(
            "no Azure subscription to look for tagged function apps in",
            hint="set [azure] subscription_id in the config (or AZURE_SUBSCRIPTION_ID)",
        )
    where = region.replace(" ", "").lower() if region else None
    found = []
    url: str | None = f"/subscriptions/{subscription}/providers/Microsoft.Web/sites"
    next_link = False
    while url:
        page = _send(ctx, subscription, "GET", url, next_link=next_link).json()
        for site in page.get("value") or []:
            if (
                "functionapp" in (site.get("kind") or "").lower().split(",")
                and all((site.get("tags") or {}).get(k) == v for k, v in tags.items())
                and (where is None or (site.get("location") or "").replace(" ", "").lower() == where)
            ):
                found.append(Target("azure", site["id"], region))
        url, next_link = page.get("nextLink"), True
    return found


def _action(verb: str) -> Any:
    def apply(call: Call, state: dict[str, Any]) -> None:
        arm = parse_arm_id(call.target.resource_id, *SITE)
        _send(call.ctx, arm.subscription, "POST", f"{call.target.resource_id}/{verb}")

    return apply


operation(
    id="azure.functions.stop_app",
    description="Stop a function app: no trigger runs, HTTP calls get 403; a Consumption/Flex app bills nothing.",
    risk=Risk.medium,
    permissions=(READ, "Microsoft.Web/sites/stop/action"),
    cli="az functionapp stop --ids {target}",
    fetch=fetch_app,
    wanted=lambda call, state: {"state": "Stopped"},
    apply=_action("stop"),
    inverse="azure.functions.start_app",
    reversible=True,
    discover=discover_apps,
    verify_timeout=120.0,
)

operation(
    id="azure.functions.start_app",
    description="Start a stopped function app.",
    risk=Risk.low,
    permissions=(READ, "Microsoft.Web/sites/start/action"),
    cli="az functionapp start --ids {target}",
    fetch=fetch_app,
    wanted=lambda call, state: {"state": "Running"},
    apply=_action("start"),
    inverse="azure.functions.stop_app",
    reversible=True,
    discover=discover_apps,
    verify_timeout=120.0,
)


def _restart(call: Call, state: dict[str, Any]) -> None:
    if state["state"] != "Running":
        raise OpError(
            f"function app {call.target.resource_id} is {state['state']}, not Running: a restart would not run it",
            hint="start it with azure.functions.start_app",
        )
    _action("restart")(call, state)


operation(
    id="azure.functions.restart_app",
    description="Restart a running function app (its host process restarts; in-flight executions are cut).",
    risk=Risk.medium,
    permissions=(READ, "Microsoft.Web/sites/restart/action"),
    cli="az functionapp restart --ids {target}",
    fetch=fetch_app,
    wanted=lambda call, state: {"state": "Running"},
    apply=_restart,
    mode="action",
    discover=discover_apps,
    verify_timeout=120.0,
)


POLL_SECONDS = 5.0  # between polls of a swap when Azure sends no Retry-After
SWAP_TIMEOUT = 900.0


class SwapParams(Params):
    slot: str = Field(
        default="staging",
        pattern=r"^[A-Za-z0-9-]{1,59}$",
        description="the deployment slot to swap with production (the one the failed deployment came from)",
    )


def _pair(first: str | None, second: str | None) -> str | None:
    """A swap as the two slots it exchanged, in a fixed order (a swap back names the same two slots)."""
    if not first or not second:
        return None
    return "<->".join(sorted((first.lower(), second.lower())))


def fetch_swap(call: Call) -> dict[str, Any]:
    site = _site(call)
    props = site.get("properties") or {}
    swap = props.get("slotSwapStatus") or {}
    return {
        "state": props.get("state"),
        "kind": (site.get("kind") or "").lower(),
        "last_swap": _pair(swap.get("sourceSlotName"), swap.get("destinationSlotName")),
        "last_swap_at": swap.get("timestampUtc"),
        **flat_tags(site.get("tags")),
    }


def _arm_error(exc: Any) -> str:
    try:
        error = (exc.response.json() or {}).get("error") or {}
    except (AttributeError, ValueError):
        error = {}
    code = error.get("code") or getattr(exc, "status_code", None) or type(exc).__name__
    message = (error.get("message") or str(getattr(exc, "message", "") or exc)).strip().splitlines()
    return f"{code}: {message[0] if message else type(exc).__name__}"


def _wait_operation(call: Call, subscription: str, response: Any, doing: str) -> None:
    """Follow an ARM long-running operation answered through ``send_request``: ``Azure-AsyncOperation``
    (status InProgress / Succeeded / Failed) when given, else ``Location`` (202 until done). A failure - an
    error status or a ``Failed`` operation - is an :class:`OpError` with Azure's code and message."""
    errors = call.ctx.sdk_errors("azure")
    deadline = time.monotonic() + SWAP_TIMEOUT
    async_url = response.headers.get("Azure-AsyncOperation")
    location = response.headers.get("Location")
    status = response.status_code
    try:
        while True:
            if status not in (201, 202) and not async_url:
                return
            if time.monotonic() > deadline:
                raise OpError(
                    f"Azure did not finish to {doing} {call.target.resource_id} in {SWAP_TIMEOUT:.0f} s",
                    hint="see the app's activity log in the portal; run this again once the swap is over",
                )
            wait = response.headers.get("Retry-After")
            time.sleep(float(wait) if wait and wait.isdigit() else POLL_SECONDS)
            if async_url:
                response = _send(call.ctx, subscription, "GET", async_url, next_link=True)
                body = response.json() or {}
                state = str(body.get("status", "")).lower()
                if state == "succeeded":
                    return
                if state in ("failed", "canceled", "cancelled"):
                    error = body.get("error") or {}
                    raise OpError(
                        f"Azure could not {doing} {call.target.resource_id}: "
                        f"{error.get('code', state)}: {error.get('message') or 'no reason given'}",
                        hint="do what Azure's message asks, then run this again: it reads the app first",
                    )
                continue
            if not location:
                return
            response = _send(call.ctx, subscription, "GET", location, next_link=True)
            status = response.status_code
    except errors as exc:
        raise OpError(
            f"Azure could not {doing} {call.target.resource_id}: {_arm_error(exc)}",
            hint="do what Azure's message asks, then run this again: it reads the app first, so a swap that "
            "did happen is not made twice",
        ) from exc


def _swap_wanted(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    return {"state": "Running", "last_swap": _pair(call.params.slot, "production")}


def _swap(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    arm = parse_arm_id(call.target.resource_id, *SITE)
    doing = f"swap the {call.params.slot} slot with production of"
    try:
        response = _send(
            call.ctx,
            arm.subscription,
            "POST",
            f"{call.target.resource_id}/slotsswap",
            body={"targetSlot": call.params.slot, "preserveVnet": True},
        )
    except call.ctx.sdk_errors("azure") as exc:
        raise OpError(
            f"Azure could not {doing} {call.target.resource_id}: {_arm_error(exc)}",
            hint=f"check that the app has a '{call.params.slot}' slot ('az functionapp deployment slot list')",
        ) from exc
    _wait_operation(call, arm.subscription, response, doing)
    after = fetch_swap(call)
    if after["last_swap_at"] == state["last_swap_at"]:
        raise OpError(
            f"Azure said the swap of {call.target.resource_id} finished, but the app's last swap is still the one "
            f"of {state['last_swap_at'] or 'never'}",
            hint="see the app's deployment slots in the portal before running this again",
        )
    return {
        "slot": call.params.slot,
        "swapped_at": after["last_swap_at"],
        "swap_before": state["last_swap_at"],
    }


operation(
    id="azure.functions.swap_slot",
    description="Roll a function app back after a failed slot-swap deployment: swap the slot (staging unless "
    "told) with production again, so the last good build serves. Both slots keep their hostnames.",
    risk=Risk.medium,
    permissions=(READ, "Microsoft.Web/sites/slotsswap/action"),
    cli="az functionapp deployment slot swap --ids {target} --slot {slot} --target-slot production",
    fetch=fetch_swap,
    wanted=_swap_wanted,
    apply=_swap,
    params=SwapParams,
    mode="action",
    verify_timeout=300.0,
)
