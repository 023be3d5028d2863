"""Tag any Azure resource the scan collects: ``azure.resources.tag_resource``.

The Tags API at the resource's scope, ``PATCH {scope}/providers/Microsoft.Resources/tags/default`` with
``operation: Merge`` (api-version 2021-04-01): one call for every ARM type (a resource group or a subscription
too). Blob containers are not ARM-taggable: refused.
"""

from __future__ import annotations

import re
from typing import Any

from escher.lazy import require
from escher.ops._common import flat_tags, missing_as_not_found
from escher.ops._tagging import TagParams
from escher.ops.model import Call, OpError, Risk, operation

TAGS_API_VERSION = "2021-04-01"
_ARM_SCOPE = re.compile(
    r"^/subscriptions/(?P<sub>[0-9a-fA-F-]{36})(?:/resourceGroups/[^/]+(?:/providers/.+)?)?$"
)


def _arm_scope(call: Call) -> tuple[str, str]:
    """(scope, subscription) of the target: a resource id, a resource group or a subscription."""
    scope = call.target.resource_id.rstrip("/")
    match = _ARM_SCOPE.match(scope)
    if not match:
        raise OpError(
            f"{scope!r} is not an Azure resource id",
            hint="use /subscriptions/<id>[/resourceGroups/<rg>[/providers/<provider>/<type>/<name>]]",
        )
    if "/blobservices/" in scope.lower() or "/fileservices/" in scope.lower():
        raise OpError(
            f"{scope} is a storage container or share: ARM tags do not apply to it",
            hint="tag its storage account instead (containers carry metadata, not tags)",
        )
    return scope, match.group("sub")


def _tags_request(call: Call, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    rest = require("azure.core.rest", "azure")
    scope, subscription = _arm_scope(call)
    client = call.ctx.azure("compute", subscription)  # any installed management client's pipeline will do
    request = rest.HttpRequest(
        method,
        f"{scope}/providers/Microsoft.Resources/tags/default",
        params={"api-version": TAGS_API_VERSION},
        json=body,
    )
    response = client.send_request(request)
    response.raise_for_status()
    reply: dict[str, Any] = response.json()
    return reply


def fetch_azure_tags(call: Call) -> dict[str, Any]:
    with missing_as_not_found(call, "Azure resource"):
        reply = _tags_request(call, "GET")
    return flat_tags((reply.get("properties") or {}).get("tags"))


def _tag_azure(call: Call, state: dict[str, Any]) -> None:
    body = {"operation": "Merge", "properties": {"tags": dict(call.params.tags)}}
    with missing_as_not_found(call, "Azure resource"):
        _tags_request(call, "PATCH", body)


operation(
    id="azure.resources.tag_resource",
    description="Add or overwrite tags on any Azure resource, resource group or subscription (the Tags API's "
    "Merge: other tags kept). Blob containers are refused (they carry metadata, not tags).",
    risk=Risk.low,
    permissions=("Microsoft.Resources/tags/read", "Microsoft.Resources/tags/write"),
    cli="az tag update --resource-id {target} --operation Merge --tags {tags}",
    fetch=fetch_azure_tags,
    wanted=lambda call, state: flat_tags(call.params.tags),
    apply=_tag_azure,
    params=TagParams,
    reversible=True,
)
