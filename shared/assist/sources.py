"""Where the client finds context for a question, behind one small interface.

    class ContextSource(Protocol):
        def search(self, query: str, limit: int) -> list[ContextItem]: ...

- :class:`EstateSource` reads what the scans keep (``escher.scans.persist``: latest estate, cost snapshots, the
  latest scan's findings) and sends only the resources the question is about (same parser as the planner).
- :class:`StoreSource` adapts ``escher.store.Store`` (hybrid search over the five collections).
- :class:`MemorySource` holds items in memory (tests, demos).

Every item is metadata: scalar attributes only, strings cut short, nested documents (policies, rules, user
data) dropped. Credentials are withheld later by :class:`escher.assist.client.Assistant` anyway.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from escher.brain._parse import Query, canonical_env, kind_of, parse
from escher.brain.models import ContextItem
from escher.clouds import CLOUDS
from escher.privacy import cut

if TYPE_CHECKING:
    from escher.scans.persist import ResultStore
    from escher.store.store import Store

__all__ = [
    "ContextSource",
    "EstateSource",
    "MemorySource",
    "StoreSource",
    "gather",
    "in_accounts",
    "item_from_record",
    "relevant",
]

MAX_ITEMS = 200
_WORD = re.compile(r"[a-z0-9]+")


class ContextSource(Protocol):
    def search(self, query: str, limit: int) -> list[ContextItem]: ...


def _scalar_attrs(attrs: dict[str, Any]) -> dict[str, str | int | float | bool | None]:
    out: dict[str, str | int | float | bool | None] = {}
    for key, value in attrs.items():
        if isinstance(value, bool | int | float) or value is None:
            out[key] = value
        elif isinstance(value, str):
            out[key] = cut(value, 200)
        if len(out) >= 48:
            break
    return out


def _open_to_world(attrs: dict[str, Any]) -> bool:
    for rule in attrs.get("ingress") or []:
        if isinstance(rule, dict) and any(c in ("0.0.0.0/0", "::/0") for c in rule.get("cidrs", []) or []):
            return True
    return False


def item_from_record(rec: dict[str, Any]) -> ContextItem:
    """A scan record (``escher.scans.model.Record.to_dict()``) as context."""
    attrs = dict(rec.get("attrs") or {})
    scalars = _scalar_attrs(attrs)
    if "ingress" in attrs:
        scalars["open_to_world"] = _open_to_world(attrs)
    return ContextItem(
        kind="resource",
        id=cut(str(rec["id"]), 512),
        cloud=rec.get("cloud") if rec.get("cloud") in CLOUDS else None,
        account=str(rec.get("account") or "")[:128] or None,
        region=str(rec.get("region") or "")[:64] or None,
        resource_type=str(rec.get("type") or "")[:128] or None,
        name=cut(str(rec.get("name") or ""), 256),
        state=str(attrs.get("state") or "")[:64],
        tags={cut(str(k), 128): cut(str(v), 256) for k, v in list((rec.get("tags") or {}).items())[:64]},
        attrs=scalars,
    )


def relevant(items: Iterable[ContextItem], q: Query, limit: int = MAX_ITEMS) -> list[ContextItem]:
    """The resources a question is about: its kind, cloud, region, environment and named ids; nothing else."""
    words = set(_WORD.findall(q.text.lower()))
    scored: list[tuple[int, str, ContextItem]] = []
    for item in items:
        if item.kind != "resource":
            scored.append((1, item.id, item))
            continue
        if q.named and item.id not in q.named and item.name not in q.text:
            continue
        if q.kind and kind_of(item.resource_type) != q.kind:
            continue
        if q.cloud and item.cloud != q.cloud:
            continue
        if q.region and not (item.region or "").startswith(q.region):
            continue
        if q.environment and canonical_env(item.environment) != q.environment:
            continue
        if not (q.kind or q.cloud or q.region or q.environment or q.named or q.special):
            overlap = len(
                words & set(_WORD.findall(f"{item.name} {item.resource_type} {item.state}".lower()))
            )
            if not overlap:
                continue
        scored.append((0, item.id, item))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [i for _, _, i in scored[:limit]]


def in_accounts(items: Iterable[ContextItem], accounts: Collection[str] | None) -> list[ContextItem]:
    """``items`` narrowed to ``accounts`` (None: all): a resource or finding of another account, or of none, is
    dropped, and so is another account's cost row; what belongs to no account (a cloud's cost totals, an alert
    or a report that names none) stays."""
    if accounts is None:
        return list(items)

    def keep(item: ContextItem) -> bool:
        if item.account:
            return item.account in accounts
        if item.kind in ("resource", "finding"):
            return False
        return item.attrs.get("dimension") != "account" or item.name in accounts

    return [item for item in items if keep(item)]


class MemorySource:
    def __init__(self, items: Sequence[ContextItem]) -> None:
        self.items = list(items)

    def search(self, query: str, limit: int) -> list[ContextItem]:
        return relevant(self.items, parse(query), limit)


class EstateSource:
    """The latest estate, cost snapshots and findings kept by the scans (``escher.scans.persist``)."""

    def __init__(self, store: ResultStore, accounts: Collection[str] | None = None) -> None:
        self.store = store
        self.accounts = accounts  # None: every account; else only these (escher ask --account)

    def _resources(self) -> list[ContextItem]:
        estate = self.store.latest("estate") or {}
        items = [
            item_from_record(r) for r in estate.get("records", []) if isinstance(r, dict) and r.get("id")
        ]
        return in_accounts(items, self.accounts)

    def _costs(self) -> list[ContextItem]:
        """The cost rows the report reads (escher.assist.report_context): per service, per environment /
        region / account, and the day, week and month totals."""
        from escher.assist.report_context import cost_items

        return in_accounts(cost_items(self.store), self.accounts)

    def _findings(self, limit: int = 200) -> list[ContextItem]:
        from escher.assist.report_context import finding_items

        return finding_items(self.store, limit, self.accounts)

    def search(self, query: str, limit: int) -> list[ContextItem]:
        from escher.brain._answers import report_question

        q = parse(query)
        asked = report_question(query)  # the morning report's own questions: the data its answer reads
        if asked is not None and asked[0] in ("optimizations", "finding_group"):
            return self._findings(limit)
        if asked is not None and asked[0] == "changes":
            from escher.assist.report_context import change_items

            return [*in_accounts(change_items(self.store), self.accounts), *self._findings(limit)][:limit]
        if q.special == "cost_driver" or asked is not None:
            return self._costs()[:limit]
        if q.special == "report":
            return self._findings()[:limit]
        if q.special in ("alerts", "timeline"):
            return []  # alerts come from the pipeline's store (escher.assist.alerts.AlertSource)
        return relevant(self._resources(), q, limit)


class StoreSource:
    """``escher.store.Store``: the five collections, hybrid search. Resources are selected like the estate's."""

    def __init__(self, store: Store, accounts: Collection[str] | None = None) -> None:
        self.store = store
        self.accounts = accounts  # None: every account; else only these (escher ask --account)

    def search(self, query: str, limit: int) -> list[ContextItem]:
        from escher.store.models import Collection as StoreCollection

        q = parse(query)
        resources = [
            _from_store_record(r) for r in self.store.records(StoreCollection.inventory, limit=2000)
        ]  # metadata filter locally: a plan needs every match, not the top ten
        items = relevant(in_accounts([r for r in resources if r is not None], self.accounts), q, limit)
        for hit in self.store.search(query, limit=10):
            if str(hit.collection) == "inventory":
                continue
            if str(hit.collection) == "alerts" and (alert := self._alert(hit.doc_id)) is not None:
                items.append(alert)
                continue
            items.append(ContextItem(kind=_HIT_KIND.get(str(hit.collection), "report"), id=hit.doc_id[:512],
                                     cloud=hit.cloud if hit.cloud in CLOUDS else None,  # type: ignore[arg-type]
                                     region=hit.region, resource_type=hit.resource_type, name=hit.title[:256],
                                     state=str(hit.kind)[:64], text=cut(hit.text, 2000), at=hit.at))  # fmt: skip
        return in_accounts(items, self.accounts)[:limit]

    def _alert(self, doc_id: str) -> ContextItem | None:
        """An alert hit with its stored alert (severity, status, stage timings) when it is one."""
        from pydantic import ValidationError

        from escher.alerts.model import Alert
        from escher.assist.alerts import alert_item

        record = self.store.get("alerts", doc_id.partition("/")[2])
        data = getattr(record, "data", None)
        if not isinstance(data, dict) or "alert_id" not in data:
            return None
        try:
            return alert_item(Alert.model_validate(data))
        except ValidationError:
            return None  # another kind of alerts-collection record: the plain hit is used


_HIT_KIND: dict[str, Literal["chat", "operation", "report", "alert"]] = {
    "chat": "chat",
    "operations": "operation",
    "reports": "report",
    "alerts": "alert",
}


def _from_store_record(record: Any) -> ContextItem | None:
    if not hasattr(record, "resource_id"):
        return None
    return item_from_record({
        "id": record.resource_id, "cloud": record.cloud, "account": record.account, "region": record.region,
        "type": record.resource_type, "name": record.name, "tags": record.tags,
        "attrs": {**record.properties, "state": record.state},
    })  # fmt: skip


def gather(
    query: str,
    sources: Sequence[ContextSource],
    limit: int = MAX_ITEMS,
    accounts: Collection[str] | None = None,
) -> list[ContextItem]:
    """Ask each source, keep the first item per id (of ``accounts`` only, when given), at most ``limit``."""
    seen: dict[str, ContextItem] = {}
    for source in sources:
        for item in in_accounts(source.search(query, limit), accounts):
            seen.setdefault(item.id, item)
            if len(seen) >= limit:
                return list(seen.values())
    return list(seen.values())
