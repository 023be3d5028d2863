"""Cloud Run services (Cloud Functions 2nd gen run as Cloud Run services): scale to zero, restore the scaling,
restart. Target: ``projects/P/locations/L/services/S``.

What the Cloud Run Admin API v2 offers (the discovery document googleapiclient ships, ``run.v2.json``): a service
has no stopped state and no stop method. What stops it serving is the service-level ``scaling`` in **manual**
mode with ``manualInstanceCount`` 0: no instance runs, so requests get the error of a revision with no instance,
and nothing is billed for instances. So the operations are named for what they do:

- ``gcp.run.scale_to_zero`` remembers the service's ``scaling`` in the service annotation
  :data:`STOP_ANNOTATION` (the plan's "before" has it too), then sets manual scaling with 0 instances;
- ``gcp.run.restore_scaling`` puts the remembered ``scaling`` back (automatic scaling when nothing is
  remembered) and removes the annotation;
- ``gcp.run.restart_service`` makes a new revision from the same template: the revision-template annotation
  :data:`RESTART_ANNOTATION` set to the plan's key, with ``forceNewRevision``. A template that names its
  revision is sent without that name (a new revision cannot reuse it). Traffic that follows the latest
  revision moves to the new one; traffic pinned to a named revision does not.

- ``gcp.run.rollback_revision`` (a failed deployment): sends 100 % of the traffic to the newest *ready*
  revision older than the ones serving now (or ``to_revision``), as ``gcloud run services update-traffic
  --to-revisions=REV=100`` does: ``traffic`` becomes one ``TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION`` entry
  (during a canary split, the revision the rest of the traffic still goes to).
  Revisions come from ``services.revisions.list``; a revision is ready when its ``Ready`` condition
  succeeded. Traffic is then pinned: a later deploy gets none until traffic is sent to latest again
  (``gcloud run services update-traffic --to-latest``).

Each change is ``services.patch`` with an ``updateMask``, a long-running operation polled with
``operations.get`` until ``done``; a failed one is an :class:`OpError` with Google's code and message. Verify
reads the service back (``reconciling`` false, the terminal condition succeeded). A function deployed with
Cloud Functions keeps its own copy of the settings: a later ``gcloud functions deploy`` sets them again.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import Field

from escher.lazy import require
from escher.ops._common import flat_tags, missing_as_not_found
from escher.ops.model import Call, OpError, Params, Risk, operation

STOP_ANNOTATION = "escher.dev/scaling-before-stop"
RESTART_ANNOTATION = "escher.dev/restarted"
NUM_RETRIES = 5  # googleapiclient's own retry of 429/5xx with exponential backoff
OPERATION_TIMEOUT = 900.0
FIRST_POLL = 0.5
# updating a service deploys it as its runtime service account: Cloud Run checks actAs on every update
PERMISSIONS = ("run.services.get", "run.services.update", "run.operations.get", "iam.serviceAccounts.actAs")


def _name(call: Call) -> str:
    parts = call.target.resource_id.strip("/").split("/")
    if len(parts) != 6 or parts[0] != "projects" or parts[2] != "locations" or parts[4] != "services":
        raise OpError(
            f"{call.target.resource_id!r} is not a Cloud Run service name",
            hint="use projects/<project>/locations/<region>/services/<service>",
        )
    return "/".join(parts)


def _run(call: Call) -> Any:
    """A Cloud Run Admin v2 client from the shipped discovery document, over the context's ``httplib2`` seam
    when there is one. Built per call: httplib2 is not thread-safe."""
    discovery = require("googleapiclient.discovery", "gcp")
    if call.ctx.gcp_discovery_http is not None:
        return discovery.build(
            "run", "v2", http=call.ctx.gcp_discovery_http, static_discovery=True, cache_discovery=False
        )
    from escher.clouds.gcp import credentials

    creds = call.ctx.gcp_credentials if call.ctx.gcp_credentials is not None else credentials()
    return discovery.build("run", "v2", credentials=creds, static_discovery=True, cache_discovery=False)


def _services(run: Any) -> Any:
    return run.projects().locations().services()


def _get(call: Call, run: Any) -> dict[str, Any]:
    with missing_as_not_found(call, "Cloud Run service"):
        service: dict[str, Any] = _services(run).get(name=_name(call)).execute(num_retries=NUM_RETRIES)
    return service


def fetch_service(call: Call) -> dict[str, Any]:
    svc = _get(call, _run(call))
    scaling = svc.get("scaling") or {}
    mode = scaling.get("scalingMode") or "AUTOMATIC"  # unset is automatic
    manual = scaling.get("manualInstanceCount")
    template_annotations = (svc.get("template") or {}).get("annotations") or {}
    return {
        "scaled_to_zero": mode == "MANUAL" and not manual,
        "scaling_mode": mode,
        "manual_instance_count": manual,
        "min_instance_count": scaling.get("minInstanceCount"),
        "max_instance_count": scaling.get("maxInstanceCount"),
        "remembered_scaling": (svc.get("annotations") or {}).get(STOP_ANNOTATION),
        "restart_marker": template_annotations.get(RESTART_ANNOTATION),
        "reconciling": bool(svc.get("reconciling")),
        "ready": (svc.get("terminalCondition") or {}).get("state") == "CONDITION_SUCCEEDED",
        "latest_ready_revision": svc.get("latestReadyRevision"),
        **flat_tags(svc.get("labels")),
    }


def _patch(call: Call, run: Any, body: dict[str, Any], mask: str, doing: str, **query: Any) -> dict[str, Any]:
    """``services.patch`` then ``operations.get`` until the operation is done; its error is ours."""
    op = (
        _services(run)
        .patch(name=_name(call), body=body, updateMask=mask, **query)
        .execute(num_retries=NUM_RETRIES)
    )
    deadline = time.monotonic() + OPERATION_TIMEOUT
    wait = FIRST_POLL
    operations = run.projects().locations().operations()
    while not op.get("done"):
        if time.monotonic() > deadline:
            raise OpError(
                f"Cloud Run operation {op.get('name')} did not finish in {OPERATION_TIMEOUT:.0f} s",
                hint=f"see it with 'gcloud run services describe {call.target.resource_id}'",
            )
        time.sleep(wait)
        wait = min(wait * 2, 10.0)
        op = operations.get(name=op["name"]).execute(num_retries=NUM_RETRIES)
    if op.get("error"):
        error = op["error"]
        raise OpError(
            f"Cloud Run could not {doing} {call.target.resource_id} (operation {op.get('name')}): "
            f"{error.get('code', 'error')}: {error.get('message') or 'no reason given'}",
            hint="do what the error asks, then run this again: it reads the service first",
        )
    return {"operation": op.get("name")}


def _with_etag(svc: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    # Cloud Run refuses the update if the service changed since this read (another deploy in between)
    return {**body, "etag": svc["etag"]} if svc.get("etag") else body


def _scale_to_zero(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    run = _run(call)
    svc = _get(call, run)
    remembered = json.dumps(svc.get("scaling") or {}, sort_keys=True)
    annotations = {**(svc.get("annotations") or {}), STOP_ANNOTATION: remembered}
    body = {"scaling": {"scalingMode": "MANUAL", "manualInstanceCount": 0}, "annotations": annotations}
    details = _patch(call, run, _with_etag(svc, body), "scaling,annotations", "scale to zero")
    return {**details, "remembered_scaling": remembered}


operation(
    id="gcp.run.scale_to_zero",
    description="Stop a Cloud Run service (or 2nd gen Cloud Function) serving: manual scaling with 0 instances. "
    "Its scaling is remembered (annotation escher.dev/scaling-before-stop) for gcp.run.restore_scaling.",
    risk=Risk.medium,
    permissions=PERMISSIONS,
    cli="gcloud run services update {target} --scaling=0",
    fetch=fetch_service,
    wanted=lambda call, state: {"scaled_to_zero": True, "reconciling": False},
    apply=_scale_to_zero,
    inverse="gcp.run.restore_scaling",
    reversible=True,
    verify_timeout=600.0,
)


class RestoreParams(Params):
    min_instance_count: int | None = Field(
        default=None,
        ge=0,
        description="automatic scaling with this minimum instead of the remembered scaling",
    )
    max_instance_count: int | None = Field(
        default=None,
        ge=1,
        description="automatic scaling with this maximum instead of the remembered scaling",
    )


def _restored(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    """The ``scaling`` to put back: the parameters, else the remembered one, else automatic."""
    given = {
        "minInstanceCount": call.params.min_instance_count,
        "maxInstanceCount": call.params.max_instance_count,
    }
    if any(v is not None for v in given.values()):
        return {"scalingMode": "AUTOMATIC", **{k: v for k, v in given.items() if v is not None}}
    remembered = state.get("remembered_scaling")
    try:
        scaling = json.loads(remembered) if remembered else {}
    except ValueError:
        scaling = {}
    if not isinstance(scaling, dict) or (
        scaling.get("scalingMode") == "MANUAL" and not scaling.get("manualInstanceCount")
    ):
        scaling = {}  # nothing usable (or zero again): automatic
    return {"scalingMode": "AUTOMATIC", **scaling} if "scalingMode" not in scaling else scaling


def _restore_wanted(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    if not state["scaled_to_zero"]:
        return {"scaled_to_zero": False}
    return {
        "scaled_to_zero": False,
        "scaling_mode": _restored(call, state)["scalingMode"],
        "reconciling": False,
    }


def _restore(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    run = _run(call)
    svc = _get(call, run)
    scaling = _restored(
        call, {**state, "remembered_scaling": (svc.get("annotations") or {}).get(STOP_ANNOTATION)}
    )
    annotations = {k: v for k, v in (svc.get("annotations") or {}).items() if k != STOP_ANNOTATION}
    body = {"scaling": scaling, "annotations": annotations}
    details = _patch(call, run, _with_etag(svc, body), "scaling,annotations", "restore the scaling of")
    return {**details, "restored_scaling": scaling}


operation(
    id="gcp.run.restore_scaling",
    description="Serve again after gcp.run.scale_to_zero: the remembered scaling is put back (automatic "
    "scaling when none is remembered).",
    risk=Risk.low,
    permissions=PERMISSIONS,
    cli="gcloud run services update {target} --scaling=auto",
    fetch=fetch_service,
    wanted=_restore_wanted,
    apply=_restore,
    params=RestoreParams,
    inverse="gcp.run.scale_to_zero",
    reversible=True,
    verify_timeout=600.0,
)


def _restart(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    if state["scaled_to_zero"]:
        raise OpError(
            f"Cloud Run service {call.target.resource_id} is scaled to zero: a new revision would serve nothing",
            hint="serve again with gcp.run.restore_scaling",
        )
    run = _run(call)
    svc = _get(call, run)
    template = dict(svc.get("template") or {})
    template.pop("revision", None)  # a named revision cannot be made twice: the new one gets a generated name
    template["annotations"] = {**(template.get("annotations") or {}), RESTART_ANNOTATION: call.key}
    body = _with_etag(svc, {"template": template})
    return _patch(call, run, body, "template", "restart", forceNewRevision=True)


operation(
    id="gcp.run.restart_service",
    description="Restart a Cloud Run service: a new revision from the same template (annotation "
    "escher.dev/restarted), so every instance is replaced; traffic on the latest revision moves to it.",
    risk=Risk.medium,
    permissions=PERMISSIONS,
    cli="gcloud run services update {target} (new revision: template annotation escher.dev/restarted=<key>)",
    fetch=fetch_service,
    wanted=lambda call, state: {"restart_marker": call.key, "reconciling": False, "ready": True},
    apply=_restart,
    verify_timeout=600.0,
)


TRAFFIC_PERMISSIONS = (*PERMISSIONS, "run.revisions.list")
LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
PINNED = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"


class RollbackParams(Params):
    to_revision: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9-]{1,63}$",
        description="this revision (its short name) instead of the newest ready one before the newest serving",
    )


def _short(revision: str | None) -> str:
    return (revision or "").rsplit("/", 1)[-1]


def _revisions(call: Call, run: Any) -> list[dict[str, Any]]:
    """Every revision of the service, newest first (``services.revisions.list``, all pages)."""
    revisions = _services(run).revisions()
    found: list[dict[str, Any]] = []
    request = revisions.list(parent=_name(call))
    while request is not None:
        page = request.execute(num_retries=NUM_RETRIES)
        found += page.get("revisions") or []
        request = revisions.list_next(request, page)
    return sorted(found, key=lambda r: r.get("createTime") or "", reverse=True)


def _ready(revision: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("state") == "CONDITION_SUCCEEDED"
        for c in revision.get("conditions") or []
    )


def _serving(svc: dict[str, Any]) -> dict[str, int]:
    """Which revisions get traffic now and how much (``trafficStatuses``: what Cloud Run applied)."""
    entries = svc.get("trafficStatuses") or svc.get("traffic") or []
    serving: dict[str, int] = {}
    for entry in entries:
        percent = int(entry.get("percent") or 0)
        revision = entry.get("revision") or (
            svc.get("latestReadyRevision") if entry.get("type") == LATEST else ""
        )
        if percent and revision:
            serving[_short(revision)] = serving.get(_short(revision), 0) + percent
    return serving


def fetch_traffic(call: Call) -> dict[str, Any]:
    run = _run(call)
    svc = _get(call, run)
    revisions = _revisions(call, run)
    serving = _serving(svc)
    names = [_short(r.get("name")) for r in revisions]
    # the newest ready revision created before the newest one serving (the failed deployment): with a canary
    # split that is the revision the rest of the traffic still goes to
    newest_serving = min((names.index(n) for n in serving if n in names), default=-1)
    previous = next((_short(r.get("name")) for r in revisions[newest_serving + 1 :] if _ready(r)), None)
    return {
        "traffic": serving,
        "rollback_to": previous,
        "ready_revisions": [n for n, r in zip(names, revisions, strict=True) if _ready(r)],
        "reconciling": bool(svc.get("reconciling")),
        "ready": (svc.get("terminalCondition") or {}).get("state") == "CONDITION_SUCCEEDED",
        **flat_tags(svc.get("labels")),
    }


def _rollback_target(call: Call, state: dict[str, Any]) -> str | None:
    target: str | None = call.params.to_revision or state["rollback_to"]
    return target


def _rollback_wanted(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    return {"traffic": {_rollback_target(call, state) or "<none>": 100}, "reconciling": False}


def _rollback(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    target = _rollback_target(call, state)
    name = call.target.resource_id
    if not target:
        raise OpError(
            f"Cloud Run service {name} has no ready revision older than the newest serving one "
            f"({', '.join(state['traffic']) or 'none'}): there is nothing to roll back to",
            hint="deploy the last good image again ('gcloud run deploy'), or name a revision with to_revision",
        )
    if target not in state["ready_revisions"]:
        raise OpError(
            f"revision {target} of Cloud Run service {name} is not a ready revision of it",
            hint=f"ready revisions: {', '.join(state['ready_revisions']) or 'none'}",
        )
    run = _run(call)
    svc = _get(call, run)
    body = _with_etag(svc, {"traffic": [{"type": PINNED, "revision": target, "percent": 100}]})
    details = _patch(call, run, body, "traffic", f"send all traffic to {target} of")
    return {**details, "traffic_before": state["traffic"], "rolled_back_to": target}


operation(
    id="gcp.run.rollback_revision",
    description="Roll a Cloud Run service (or 2nd gen Cloud Function) back after a failed deployment: 100 % of "
    "the traffic to the newest ready revision before the newest serving one (or to_revision). Traffic stays pinned "
    "to it until sent to latest again.",
    risk=Risk.medium,
    permissions=TRAFFIC_PERMISSIONS,
    cli="gcloud run services update-traffic {target} --to-revisions=<previous ready revision>=100",
    fetch=fetch_traffic,
    wanted=_rollback_wanted,
    apply=_rollback,
    params=RollbackParams,
    mode="action",
    verify_timeout=600.0,
)
