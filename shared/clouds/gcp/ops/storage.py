"""GCP Cloud Storage bucket hardening. The target is the bucket name."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from escher.ops._common import missing_as_not_found
from escher.ops.model import Call, Params, Risk, operation

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


def _bucket(call: Call) -> Any:
    with missing_as_not_found(call, "Cloud Storage bucket"):
        return call.ctx.gcs().get_bucket(call.target.resource_id)


def fetch_pap(call: Call) -> dict[str, Any]:
    bucket = _bucket(call)
    return {"public_access_prevention": bucket.iam_configuration.public_access_prevention}


def _enforce_pap(call: Call, state: dict[str, Any]) -> None:
    bucket = _bucket(call)
    bucket.iam_configuration.public_access_prevention = "enforced"
    bucket.patch()


operation(
    id="gcp.storage.enforce_public_access_prevention",
    description="Enforce public access prevention on a bucket: nothing in it can be made public.",
    risk=Risk.medium,
    permissions=("storage.buckets.get", "storage.buckets.update"),
    cli="gcloud storage buckets update gs://{target} --public-access-prevention",
    fetch=fetch_pap,
    wanted=lambda call, state: {"public_access_prevention": "enforced"},
    apply=_enforce_pap,
    reversible=True,
)


def _public_bindings(policy: Any) -> list[dict[str, Any]]:
    found = [
        {"role": b["role"], "members": sorted(m for m in b["members"] if m in PUBLIC_MEMBERS)}
        for b in policy.bindings
        if any(m in PUBLIC_MEMBERS for m in b["members"])
    ]
    return sorted(found, key=lambda b: str(b["role"]))


def fetch_public_bindings(call: Call) -> dict[str, Any]:
    policy = _bucket(call).get_iam_policy(requested_policy_version=3)
    return {"public_bindings": _public_bindings(policy)}


def _remove_public(call: Call, state: dict[str, Any]) -> None:
    bucket = _bucket(call)
    policy = bucket.get_iam_policy(requested_policy_version=3)
    for binding in policy.bindings:
        binding["members"] = {m for m in binding["members"] if m not in PUBLIC_MEMBERS}
    policy.bindings = [b for b in policy.bindings if b["members"]]
    bucket.set_iam_policy(policy)  # carries the policy's etag: a concurrent change makes this fail, not merge


operation(
    id="gcp.storage.remove_public_bindings",
    description="Remove allUsers and allAuthenticatedUsers from a bucket's IAM policy; other members stay.",
    risk=Risk.medium,
    permissions=("storage.buckets.get", "storage.buckets.getIamPolicy", "storage.buckets.setIamPolicy"),
    cli="gcloud storage buckets remove-iam-policy-binding gs://{target} --member=allUsers --role=<role>",
    fetch=fetch_public_bindings,
    wanted=lambda call, state: {"public_bindings": []},
    apply=_remove_public,
    reversible=True,
)


def fetch_versioning(call: Call) -> dict[str, Any]:
    return {"versioning": bool(_bucket(call).versioning_enabled)}


def _enable_versioning(call: Call, state: dict[str, Any]) -> None:
    bucket = _bucket(call)
    bucket.versioning_enabled = True
    bucket.patch()


operation(
    id="gcp.storage.enable_versioning",
    description="Turn on object versioning for a bucket (overwritten and deleted objects stay recoverable).",
    risk=Risk.low,
    permissions=("storage.buckets.get", "storage.buckets.update"),
    cli="gcloud storage buckets update gs://{target} --versioning",
    fetch=fetch_versioning,
    wanted=lambda call, state: {"versioning": True},
    apply=_enable_versioning,
    reversible=True,
)


class LabelParams(Params):
    labels: dict[str, str] = Field(min_length=1, description="key -> value, added or overwritten")


def fetch_bucket_labels(call: Call) -> dict[str, Any]:
    return {f"tag:{k}": v for k, v in sorted((_bucket(call).labels or {}).items())}


def _set_bucket_labels(call: Call, state: dict[str, Any]) -> None:
    bucket = _bucket(call)
    bucket.labels = {**(bucket.labels or {}), **call.params.labels}
    bucket.patch()


operation(
    id="gcp.storage.set_bucket_labels",
    description="Add or overwrite labels on a bucket.",
    risk=Risk.low,
    permissions=("storage.buckets.get", "storage.buckets.update"),
    cli="gcloud storage buckets update gs://{target} --update-labels={labels}",
    fetch=fetch_bucket_labels,
    wanted=lambda call, state: {f"tag:{k}": v for k, v in call.params.labels.items()},
    apply=_set_bucket_labels,
    params=LabelParams,
    reversible=True,
)
