"""The Azure subscriptions an organization scan reads: an explicit list (``[azure] subscriptions``), the
subscriptions under a management group at any depth (``[azure] management_group``: ARM's
``managementGroups/{id}/descendants``), or every subscription the credential can see (ARM's ``/subscriptions``).

Plain ARM reads through azure-mgmt-core's ``ARMPipelineClient`` (the SDK's retries, ARM's challenge
authentication, ``nextLink`` paging); no SDK is imported until a function runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from escher.clouds.provider import AccountListing
    from escher.config import Settings
    from escher.ops.context import CloudContext

__all__ = [
    "ARM",
    "DESCENDANTS_API",
    "SUBSCRIPTIONS_API",
    "Subscription",
    "account_listing",
    "act_in",
    "list_subscriptions",
]

ARM = "https://management.azure.com"
SUBSCRIPTIONS_API = "2022-12-01"  # Microsoft.Resources subscriptions
DESCENDANTS_API = "2020-05-01"  # Microsoft.Management managementGroups


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    name: str = ""
    state: str = "Enabled"
    source: str = ""  # where it was found: "[azure] subscriptions", "management group X", "subscriptions"


def list_subscriptions(
    *,
    subscriptions: list[str] | None = None,
    management_group: str | None = None,
    credential_: Any = None,
    transport: Any = None,
    enabled_only: bool = True,
) -> list[Subscription]:
    """The subscriptions ``escher scan --cloud azure --all-accounts`` reads: ``subscriptions`` when given, else
    those under ``management_group`` (child groups too), else all the credential sees; only Enabled ones
    unless ``enabled_only`` is false (a management group's descendants carry no state: all are kept)."""
    if subscriptions:
        return [Subscription(s, source="[azure] subscriptions") for s in dict.fromkeys(subscriptions)]
    from escher.clouds.azure import arm_pipeline_client

    client = arm_pipeline_client(ARM, credential_=credential_, transport=transport)
    found: dict[str, Subscription] = {}
    if management_group:
        url = (
            f"{ARM}/providers/Microsoft.Management/managementGroups/{management_group}/descendants"
            f"?api-version={DESCENDANTS_API}"
        )
        for item in _pages(client, url):
            if not str(item.get("id", "")).lower().startswith("/subscriptions/"):
                continue  # a child management group: its subscriptions are listed too
            sub_id = str(item.get("name") or item["id"].rsplit("/", 1)[-1])
            name = str((item.get("properties") or {}).get("displayName", ""))
            found[sub_id] = Subscription(sub_id, name, "", f"management group {management_group}")
    else:
        for item in _pages(client, f"{ARM}/subscriptions?api-version={SUBSCRIPTIONS_API}"):
            state = str(item.get("state", ""))
            if enabled_only and state != "Enabled":
                continue
            sub_id = str(item["subscriptionId"])
            found[sub_id] = Subscription(sub_id, str(item.get("displayName", "")), state, "subscriptions")
    return sorted(found.values(), key=lambda s: s.id)


def _pages(client: Any, url: str) -> Iterator[dict[str, Any]]:
    from escher.clouds.azure import request

    next_url: str | None = url
    seen: set[str] = set()
    while next_url and next_url not in seen:  # a nextLink that comes back would loop forever
        seen.add(next_url)
        response = client.send_request(request("GET", next_url))
        response.raise_for_status()
        body = json.loads(response.text() or "{}")
        yield from body.get("value", [])
        next_url = body.get("nextLink")


def account_listing(settings: Settings) -> AccountListing:
    """``escher accounts list --cloud azure``: [azure] subscriptions, else those under
    [azure] management_group, else every enabled one the credential sees."""
    from escher.clouds.provider import AccountListing

    azure = settings.azure
    subs = list_subscriptions(subscriptions=azure.subscriptions, management_group=azure.management_group)
    return AccountListing(
        title=f"{len(subs)} Azure subscriptions",
        columns=("id", "name", "state", "source"),
        rows=[{"id": s.id, "name": s.name, "state": s.state, "source": s.source} for s in subs],
        data={"management_group": azure.management_group},
        none_found="check [azure] management_group, or name them in [azure] subscriptions",
    )


def act_in(base: CloudContext, settings: Settings, account: str) -> CloudContext:
    """``base`` acting in the subscription ``account``, with clients of its own: what ``escher ops --account`` acts
    through."""
    import threading
    from dataclasses import replace

    return replace(base, azure_subscription_id=account, _cache={}, _lock=threading.Lock())
