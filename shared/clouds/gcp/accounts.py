"""The GCP projects an organization scan reads: an explicit list (``[gcp] projects``), the projects under an
organization or folder at any depth (``[gcp] parent``: Resource Manager v3 ``projects.list`` and
``folders.list`` with a parent, walked down), or every active project the credential can see
(``projects.search``).

Through googleapiclient's Resource Manager v3 client, built from the discovery document shipped with the
library; no SDK is imported until a function runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from escher.clouds.provider import AccountListing
    from escher.config import Settings
    from escher.ops.context import CloudContext

__all__ = ["Project", "account_listing", "act_in", "list_projects"]


@dataclass(frozen=True, slots=True)
class Project:
    id: str  # the project id ("acme-prod"), what the scan and the operations take
    number: str = ""  # "projects/415104041262" without the prefix
    name: str = ""
    state: str = "ACTIVE"
    source: str = ""


def list_projects(
    *,
    projects: list[str] | None = None,
    parent: str | None = None,
    credentials_: Any = None,
    http: Any = None,
    active_only: bool = True,
) -> list[Project]:
    """The projects ``escher scan --cloud gcp --all-accounts`` reads: ``projects`` when given, else those
    under ``parent`` (``organizations/123`` or ``folders/456``, and every folder below it), else every
    project the credential can see. Only ACTIVE ones unless ``active_only`` is false."""
    if projects:
        return [Project(p, source="[gcp] projects") for p in dict.fromkeys(projects)]
    from escher.clouds.gcp import discovery_client

    crm = discovery_client("cloudresourcemanager", "v3", credentials_=credentials_, http=http)
    found: list[dict[str, Any]] = []
    if parent:
        pending = [parent]
        while pending:
            under = pending.pop()
            found += _all(crm.projects(), "list", "projects", parent=under)
            pending += [f["name"] for f in _all(crm.folders(), "list", "folders", parent=under)]
        source = f"under {parent}"
    else:
        found = _all(crm.projects(), "search", "projects")
        source = "projects.search"
    out: dict[str, Project] = {}
    for p in found:
        state = str(p.get("state", ""))
        if active_only and state != "ACTIVE":
            continue
        number = str(p.get("name", "")).removeprefix("projects/")
        out[str(p["projectId"])] = Project(
            str(p["projectId"]), number, str(p.get("displayName", "")), state, source
        )
    return sorted(out.values(), key=lambda p: p.id)


def _all(collection: Any, method: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    tokens: set[str] = set()
    call = getattr(collection, method)(**kwargs)
    while call is not None:
        page = call.execute()
        items += page.get(key, [])
        token = str(page.get("nextPageToken") or "")
        if token in tokens:  # a token that comes back would loop forever
            break
        tokens.add(token)
        call = getattr(collection, f"{method}_next")(call, page)
    return items


def account_listing(settings: Settings) -> AccountListing:
    """``escher accounts list --cloud gcp``: [gcp] projects, else those under [gcp] parent, else every active
    one the credential sees."""
    from escher.clouds.provider import AccountListing

    found = list_projects(projects=settings.gcp.projects, parent=settings.gcp.parent)
    return AccountListing(
        title=f"{len(found)} GCP projects",
        columns=("id", "name", "state", "source"),
        rows=[
            {"id": p.id, "number": p.number, "name": p.name, "state": p.state, "source": p.source}
            for p in found
        ],
        data={"parent": settings.gcp.parent},
        none_found="check [gcp] parent, or name them in [gcp] projects",
    )


def act_in(base: CloudContext, settings: Settings, account: str) -> CloudContext:
    """``base`` acting in the project ``account``, with clients of its own: what ``escher ops --account`` acts
    through."""
    import threading
    from dataclasses import replace

    return replace(base, gcp_project=account, _cache={}, _lock=threading.Lock())
