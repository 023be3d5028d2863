"""Azure Functions: start, stop and restart a function app. Targets are ARM ids
(``/subscriptions/S/resourceGroups/RG/providers/Microsoft.Web/sites/<app>``).

What the API offers (azure-rest-api-specs, Microsoft.Web WebApps.json, api-version :data:`API_VERSION`):
``POST .../sites/{name}/start``, ``/stop`` and ``/restart`` (200, no body, no long-running operation), and the
site's ``properties.state`` (``Running`` / ``Stopped``) read by ``GET .../sites/{name}``. A stopped function app
runs no trigger and answers HTTP with 403; on a Consumption or Flex plan nothing is billed while it is stopped.

No azure-mgmt-web is installed: the requests go through an installed management client's pipeline
(``send_request``: the same credential, retry policy for 429/5xx with Retry-After, and transport), as the scan's
documented ARM reads do. Verify reads ``state`` back; a restart is an action whose proof is the app ``Running``
again. The app's tags ride in the state, so a production app needs an approval under the production rule.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from escher.lazy import require
from escher.ops._common import flat_tags, missing_as_not_found, parse_arm_id
from escher.ops.model import Call, OpError, Risk, Target, operation

if TYPE_CHECKING:
    from escher.ops.context import CloudContext

API_VERSION = "2024-11-01"
SITE = ("sites",)
READ = "Microsoft.Web/sites/read"


def _send(ctx: CloudContext, subscription: str, method: str, path: str, *, next_link: bool = False) -> Any:
    """One ARM request through an installed management client's pipeline; an HTTP error is raised as
    azure-core's ``HttpResponseError`` (a 404 is the target's not-found). A ``next_link`` carries its query."""
    rest = require("azure.core.rest", "azure")
    client = ctx.azure("compute", subscription)
    params = None if next_link else {"api-version": API_VERSION}
    response = client.send_request(rest.HttpRequest(method, path, params=params))
    response.raise_for_status()
    return response


def fetch_app(call: Call) -> dict[str, Any]:
    arm = parse_arm_id(call.target.resource_id, *SITE)
    if not call.target.resource_id.lower().split("/providers/", 1)[1].startswith("microsoft.web/"):
        raise OpError(
            f"{call.target.resource_id!r} is not a Microsoft.Web site id",
            hint="use /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<app>",
        )
    with missing_as_not_found(call, "function app"):
        site = _send(call.ctx, arm.subscription, "GET", call.target.resource_id).json()
    kind = (site.get("kind") or "").lower()
    if "functionapp" not in kind.split(","):
        raise OpError(
            f"{call.target.resource_id} is an App Service app of kind {kind or 'app'!r}, not a function app",
            hint="these operations act on function apps only; 'az webapp stop|start|restart' does the same for "
            "a web app",
        )
    props = site.get("properties") or {}
    return {"state": props.get("state"), "kind": kind, **flat_tags(site.get("tags"))}


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
