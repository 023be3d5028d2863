"""Label any GCP resource the scan collects that has labels: ``gcp.resources.set_labels``.

Labels per API (Compute instances, disks and snapshots with their label fingerprint; Cloud Storage buckets; Cloud
SQL ``settings.userLabels``; Cloud Run services' ``labels``); firewall rules, subnetworks, service accounts and
project settings have no labels: refused.
"""

from __future__ import annotations

import re
from typing import Any

from escher.lazy import require
from escher.ops._common import flat_tags, missing_as_not_found
from escher.ops._tagging import TagParams
from escher.ops.model import Call, OpError, Risk, operation

_GCP_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_GCP_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_GCP_UNLABELLED = {
    "firewalls": "VPC firewall rules have no labels",
    "subnetworks": "subnetworks have no labels",
    "serviceAccounts": "service accounts have no labels",
}


def _gcp_kind(resource_id: str) -> str:
    """instance / disk / snapshot / sql / run / bucket, from the path the scan records (a bucket: its name)."""
    parts = resource_id.strip("/").split("/")
    if len(parts) == 1 and re.match(r"^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$", parts[0]):
        return "bucket"
    if (
        len(parts) == 6
        and parts[0] == "projects"
        and parts[2] == "zones"
        and parts[4] in ("instances", "disks")
    ):
        return parts[4][:-1]
    if len(parts) == 5 and parts[0] == "projects" and parts[2] == "global" and parts[3] == "snapshots":
        return "snapshot"
    if len(parts) == 4 and parts[0] == "projects" and parts[2] == "instances":
        return "sql"
    if len(parts) == 6 and parts[0] == "projects" and parts[2] == "locations" and parts[4] == "services":
        return "run"
    for segment, why in _GCP_UNLABELLED.items():
        if segment in parts:
            raise OpError(f"{resource_id} cannot be labelled: {why}",
                          hint="label the resources that carry labels (instances, disks, buckets, ...)")  # fmt: skip
    raise OpError(
        f"{resource_id!r} is not a GCP resource this operation labels",
        hint="use a bucket name, projects/P/zones/Z/instances|disks/N, projects/P/global/snapshots/N, "
        "projects/P/instances/N (Cloud SQL) or projects/P/locations/L/services/N (Cloud Run)",
    )


def _gcp_labels(call: Call) -> dict[str, str]:
    for key, value in call.params.tags.items():
        if not _GCP_LABEL.match(key) or not _GCP_VALUE.match(value):
            raise OpError(
                f"{key}={value} is not a GCP label",
                hint="keys start with a lowercase letter; keys and values are lowercase letters, digits, '_' "
                "and '-' (at most 63)",
            )
    return dict(call.params.tags)


def _sql_name(resource_id: str) -> tuple[str, str]:
    parts = resource_id.strip("/").split("/")
    return parts[1], parts[3]


def fetch_gcp_labels(call: Call) -> dict[str, Any]:
    rid = call.target.resource_id
    kind = _gcp_kind(rid)
    _gcp_labels(call)  # a label GCP refuses is the plan's error, before anything is read
    parts = rid.strip("/").split("/")
    if kind == "bucket":
        with missing_as_not_found(call, "Cloud Storage bucket"):
            labels = dict(call.ctx.gcs().get_bucket(rid).labels or {})
        return {"kind": kind, **flat_tags(labels)}
    if kind in ("instance", "disk"):
        client = call.ctx.gcp_compute(f"{kind}s")
        with missing_as_not_found(call, f"Compute Engine {kind}"):
            found = client.get(project=parts[1], zone=parts[3], **{kind: parts[5]})
        return {"kind": kind, "label_fingerprint": found.label_fingerprint, **flat_tags(dict(found.labels))}
    if kind == "snapshot":
        with missing_as_not_found(call, "snapshot"):
            found = call.ctx.gcp_compute("snapshots").get(project=parts[1], snapshot=parts[4])
        return {"kind": kind, "label_fingerprint": found.label_fingerprint, **flat_tags(dict(found.labels))}
    if kind == "sql":
        project, name = _sql_name(rid)
        with missing_as_not_found(call, "Cloud SQL instance"):
            inst = call.ctx.gcp_sql().instances().get(project=project, instance=name).execute(num_retries=3)
        return {"kind": kind, **flat_tags((inst.get("settings") or {}).get("userLabels"))}
    with missing_as_not_found(call, "Cloud Run service"):
        svc = _run_services(call)[1].get(name=rid).execute(num_retries=3)
    return {"kind": kind, "etag": svc.get("etag"), **flat_tags(svc.get("labels"))}


def _run_services(call: Call) -> tuple[Any, Any]:
    """A Cloud Run Admin v2 client (the shipped discovery document) and its services collection; built per call
    (httplib2 is not thread-safe)."""
    discovery = require("googleapiclient.discovery", "gcp")
    if call.ctx.gcp_discovery_http is not None:
        run = discovery.build("run", "v2", http=call.ctx.gcp_discovery_http, static_discovery=True,
                              cache_discovery=False)  # fmt: skip
    else:
        from escher.clouds.gcp import credentials

        creds = call.ctx.gcp_credentials if call.ctx.gcp_credentials is not None else credentials()
        run = discovery.build("run", "v2", credentials=creds, static_discovery=True, cache_discovery=False)
    return run, run.projects().locations().services()


def _wait_compute(operation: Any) -> None:
    operation.result(timeout=600.0)


def _label_gcp(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    rid, kind = call.target.resource_id, state["kind"]
    merged = {
        **{k.removeprefix("tag:"): v for k, v in state.items() if k.startswith("tag:")},
        **_gcp_labels(call),
    }
    parts = rid.strip("/").split("/")
    compute = require("google.cloud.compute_v1", "gcp")
    if kind == "bucket":
        bucket = call.ctx.gcs().get_bucket(rid)
        bucket.labels = {**(bucket.labels or {}), **_gcp_labels(call)}
        bucket.patch()  # carries the bucket's metageneration: a concurrent change fails, is not lost
    elif kind == "instance":
        body = compute.InstancesSetLabelsRequest(label_fingerprint=state["label_fingerprint"], labels=merged)
        _wait_compute(call.ctx.gcp_compute("instances").set_labels(
            project=parts[1], zone=parts[3], instance=parts[5], instances_set_labels_request_resource=body))  # fmt: skip
    elif kind == "disk":
        body = compute.ZoneSetLabelsRequest(label_fingerprint=state["label_fingerprint"], labels=merged)
        _wait_compute(call.ctx.gcp_compute("disks").set_labels(
            project=parts[1], zone=parts[3], resource=parts[5], zone_set_labels_request_resource=body))  # fmt: skip
    elif kind == "snapshot":
        body = compute.GlobalSetLabelsRequest(label_fingerprint=state["label_fingerprint"], labels=merged)
        _wait_compute(call.ctx.gcp_compute("snapshots").set_labels(
            project=parts[1], resource=parts[4], global_set_labels_request_resource=body))  # fmt: skip
    elif kind == "sql":
        project, name = _sql_name(rid)
        sql = call.ctx.gcp_sql()
        op = sql.instances().patch(project=project, instance=name,
                                   body={"settings": {"userLabels": merged}}).execute(num_retries=3)  # fmt: skip
        _wait_sql(call, sql, project, op)
    else:
        body = {"labels": merged, "etag": state.get("etag")}
        run, services = _run_services(call)
        op = services.patch(name=rid, body=body, updateMask="labels").execute(num_retries=3)
        _wait_run(call, run, op)
        return {"operation": op.get("name")}
    return {}


def _wait_run(call: Call, run: Any, op: dict[str, Any]) -> None:
    """Cloud Run's google.longrunning operation until ``done``; its ``error`` is the resource's failure."""
    import time

    deadline = time.monotonic() + 600.0
    while not op.get("done"):
        if time.monotonic() > deadline:
            raise OpError(f"Cloud Run operation {op.get('name')} did not finish in 600 s",
                          hint=f"see it with 'gcloud run services describe {call.target.resource_id}'")  # fmt: skip
        time.sleep(0.5)
        op = run.projects().locations().operations().get(name=op["name"]).execute(num_retries=3)
    if op.get("error"):
        error = op["error"]
        raise OpError(
            f"Cloud Run could not label {call.target.resource_id}: {error.get('code')}: {error.get('message')}",
            hint="do what the message asks, then run this again",
        )


def _wait_sql(call: Call, sql: Any, project: str, op: dict[str, Any]) -> None:
    import time

    deadline = time.monotonic() + 600.0
    while op.get("status") != "DONE":
        if time.monotonic() > deadline:
            raise OpError(f"Cloud SQL operation {op.get('name')} did not finish in 600 s",
                          hint=f"see it with 'gcloud sql operations describe {op.get('name')}'")  # fmt: skip
        time.sleep(1.0)
        op = sql.operations().get(project=project, operation=op["name"]).execute(num_retries=3)
    errors = ((op.get("error") or {}).get("errors")) or []
    if errors:
        first = errors[0]
        raise OpError(
            f"Cloud SQL could not label {call.target.resource_id} (operation {op.get('name')}): "
            f"{first.get('code')}: {first.get('message')}",
            hint="do what the message asks, then run this again",
        )


operation(
    id="gcp.resources.set_labels",
    description="Add or overwrite labels on a GCP resource the scan collects: Compute Engine instances, disks "
    "and snapshots, Cloud Storage buckets, Cloud SQL instances (user labels), Cloud Run services; other labels "
    "kept. Firewall rules, subnetworks and service accounts have no labels: refused.",
    risk=Risk.low,
    permissions=(
        "compute.instances.get",
        "compute.instances.setLabels",
        "compute.disks.get",
        "compute.disks.setLabels",
        "compute.snapshots.get",
        "compute.snapshots.setLabels",
        "compute.zoneOperations.get",
        "compute.globalOperations.get",
        "storage.buckets.get",
        "storage.buckets.update",
        "cloudsql.instances.get",
        "cloudsql.instances.update",
        "run.services.get",
        "run.services.update",
        "run.operations.get",
        "iam.serviceAccounts.actAs",  # Cloud Run: every services.patch acts as the service's identity
    ),
    cli="gcloud <service> <resource> update {target} --update-labels={tags}",
    fetch=fetch_gcp_labels,
    wanted=lambda call, state: flat_tags(call.params.tags),
    apply=_label_gcp,
    params=TagParams,
    reversible=True,
)
