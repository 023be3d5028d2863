"""The laptop sees everything the extension did: pull its state storage into the local store (``escher sync``).

From each extended cloud's state storage (the stack's ``state_url`` output) and audit storage (its WORM bucket):

- scans, cost snapshots and morning reports (``reports/{scan,cost,report}/``) and the latest inventory
  (``estate/latest.json``) into the knowledge store, as ``escher scan`` would have stored them;
- the organization scans the extension joined (``reports/org/<run>.json``), newest first, into the laptop's
  state directory with where each came from, which ``escher report`` reads (:mod:`escher.report.org`);
- alerts (``alerts/``) into the laptop's state directory, which ``escher alerts`` reads (an acknowledgement made
  on the laptop is kept), and into the alerts & events collection, which the morning report reads;
- approval requests (``approvals/``) into the approvals file (:mod:`escher.extend.approvals_remote`);
- audit objects (``audit/``) into the ledger, each checked against the SHA-256 its envelope carries and against
  its key (a changed or misnamed object is rejected and named, never appended), appended once by record id.

Each object is read once per version: the ``(key, listed version)`` pairs already pulled are kept in
``sync_seen`` (collection ``pull:<url>``), so running sync again reads nothing new and duplicates nothing. A
deadline (the automatic sync before ``report``/``alerts``/``approvals``/``audit``) stops between objects; what
was not reached is pulled next time.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from escher.clouds import CLOUDS
from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.config import Paths
    from escher.extend.approvals_remote import ExtendedApprovalStore
    from escher.store.store import Store

__all__ = ["PullResult", "Source", "importer", "pull", "pull_all", "share", "source_of", "sources"]

RESULT_KINDS = ("cost", "scan", "report")  # cost first: the report of a scan reads its day's snapshot
ORG_REPORTS = "reports/org/"  # the organization scans the extension joined (escher.pipeline.fanout.join)
# what is listed: not the whole storage (an organization's per-account parts, scans/org/, grow by the
# accounts every day; the audit objects are listed on their own, records/ by `sync --share`)
LISTED = ("reports/", "estate/latest.json", "alerts/")  # and the approval requests' prefix


@dataclass(frozen=True)
class Source:
    cloud: str
    state_url: str
    audit_url: str


@dataclass
class PullResult:
    cloud: str
    state_url: str
    pulled: dict[str, int] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    complete: bool = True

    @property
    def total(self) -> int:
        return sum(self.pulled.values())

    def to_dict(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "state_url": self.state_url, "pulled": dict(self.pulled),
                "rejected": list(self.rejected), "complete": self.complete}  # fmt: skip


def _audit_url(cloud: str, outputs: dict[str, Any], state_url: str) -> str:
    if outputs.get("audit_url"):
        return str(outputs["audit_url"])
    bucket = outputs.get("audit_bucket")
    if bucket and cloud in ("aws", "gcp"):
        return f"{'s3' if cloud == 'aws' else 'gs'}://{bucket}"
    return (
        state_url  # audit objects beside the state (Local Only layouts, Azure until it names its container)
    )


def source_of(cloud: str, outputs: dict[str, Any]) -> Source | None:
    url = outputs.get("state_url")
    if not url:
        return None
    return Source(cloud, str(url), _audit_url(cloud, outputs, str(url)))


def sources(paths: Paths) -> list[Source]:
    """The extended clouds' storages, from the outputs kept by ``escher extend`` (no network)."""
    from escher.infra.driver import LocalState, load_outputs

    local = LocalState.load(paths)
    found = []
    for cloud in CLOUDS:
        if local.mode(cloud) == "thin-client" and (src := source_of(cloud, load_outputs(paths, cloud))):
            found.append(src)
    return found


def _state(url: str) -> Any:
    """The ``escher.state`` backend behind a state URL (its listing carries versions)."""
    from escher.pipeline.objects import open_objects

    objects = open_objects(url)
    state = getattr(objects, "state", None)
    if state is None:
        raise EscherError(
            f"{url} cannot be listed with versions", hint="use an s3://, gs://, az:// or file URL"
        )
    return state


def _seen(store: Store, url: str) -> set[str]:
    rows = store.connection.execute(
        "SELECT content_hash FROM sync_seen WHERE collection = %s", (f"pull:{url}",)
    ).fetchall()
    return {str(r[0]) for r in rows}


def _mark(store: Store, url: str, marks: list[str]) -> None:
    if not marks:
        return
    with store.connection.transaction(), store.connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO sync_seen (collection, content_hash, direction) VALUES (%s, %s, 'pulled') "
            "ON CONFLICT DO NOTHING",
            [(f"pull:{url}", m) for m in marks],
        )


def pull(
    store: Store,
    source: Source,
    *,
    approvals: ExtendedApprovalStore | None = None,
    local_state: Any = None,
    deadline: Callable[[], bool] | None = None,
) -> PullResult:
    """Pull one cloud's storages into ``store``; ``local_state`` (the laptop's alert objects) and
    ``approvals`` are optional. Objects already pulled in this version are not read again."""
    from escher.scans.persist_store import StoreResults

    result = PullResult(source.cloud, source.state_url)
    late = deadline or (lambda: False)
    state = _state(source.state_url)
    seen = _seen(store, source.state_url)
    from escher.extend.approvals_remote import PREFIX as APPROVALS

    listing = {info.key: info.version for prefix in (*LISTED, APPROVALS) for info in state.list(prefix)}
    fresh = {k: v for k, v in listing.items() if f"{k}#{v}" not in seen}
    marks: list[str] = []

    def stop() -> bool:
        if late():
            result.complete = False
        return not result.complete

    try:
        results = StoreResults(store)
        for kind in RESULT_KINDS:
            prefix = f"reports/{kind}/"
            for key in sorted(k for k in fresh if k.startswith(prefix) and k.endswith(".json")):
                if stop():
                    return result
                name = key[len(prefix) : -len(".json")]
                if results.get(kind, name) is None:
                    results.put(kind, name, json.loads(state.get(key).data))
                    result.pulled[kind] = result.pulled.get(kind, 0) + 1
                marks.append(f"{key}#{fresh[key]}")
        if "estate/latest.json" in fresh and not stop():
            results.put("estate", "latest", json.loads(state.get("estate/latest.json").data))
            marks.append(f"estate/latest.json#{fresh['estate/latest.json']}")
        if local_state is not None and not _org_reports(
            source, state, fresh, local_state, result, marks, stop
        ):
            return result
        for key in sorted(k for k in fresh if k.startswith("alerts/") and k.endswith(".json")):
            if stop():
                return result
            _alert(store, local_state, key, state.get(key).data)
            result.pulled["alerts"] = result.pulled.get("alerts", 0) + 1
            marks.append(f"{key}#{fresh[key]}")
        if approvals is not None and not stop():
            from escher.extend.approvals_remote import PREFIX, pull_approvals

            wanted = {k: v for k, v in listing.items() if k.startswith(PREFIX)}
            n = pull_approvals(approvals, source.cloud, source.state_url, wanted, deadline=late)
            if n:
                result.pulled["approvals"] = n
        if not stop():
            _audit(store, source, local_state, result, late)
    finally:
        _mark(store, source.state_url, marks)
    return result


def _org_reports(
    source: Source,
    state: Any,
    fresh: dict[str, str],
    local_state: Any,
    result: PullResult,
    marks: list[str],
    stop: Callable[[], bool],
) -> bool:
    """The organization scans the extension joined (``reports/org/<run>.json``), newest first, into the
    laptop's state directory with where each came from (:func:`escher.report.org.keep`); a new version of a
    run (a late part joined again) replaces the one kept. False when the deadline stopped it."""
    from escher.report.org import keep

    for key in sorted((k for k in fresh if k.startswith(ORG_REPORTS) and k.endswith(".json")), reverse=True):
        if stop():
            return False
        got = state.get(key)
        if got is None:  # gone since the listing
            continue
        try:
            keep(local_state, source.cloud, f"{state.url}{key}", str(fresh[key]), got.data)
        except ValueError:  # not a joined report: named on every sync, never kept
            result.rejected.append(f"{state.url}{key}")
            continue
        result.pulled["org_report"] = result.pulled.get("org_report", 0) + 1
        marks.append(f"{key}#{fresh[key]}")
    return True


def _alert(store: Store, local_state: Any, key: str, data: bytes) -> None:
    from escher.alerts.model import Alert
    from escher.store.models import AlertRecord

    alert = Alert.model_validate_json(data)
    if local_state is not None:
        mine = local_state.get(key)
        if mine is not None:  # an acknowledgement made on this laptop is kept
            ours = Alert.model_validate_json(mine.data)
            if ours.acknowledged_at is not None and alert.acknowledged_at is None:
                alert.acknowledged_at, alert.acknowledged_by = ours.acknowledged_at, ours.acknowledged_by
        local_state.put(key, alert.model_dump_json().encode())
    store.put(
        AlertRecord(
            alert_kind="alert", name=alert.alert_id, at=alert.created_at, cloud=alert.cloud,
            account=alert.account_id or None, region=alert.region or None,
            severity=alert.severity.lower(),  # type: ignore[arg-type]
            resource_type=alert.resource_type, summary=alert.title,
            data={"severity": alert.severity, "title": alert.title, "summary": alert.summary,
                  "status": alert.status, "approval_request_id": alert.approval_request_id},
        )
    )  # fmt: skip


def _audit(
    store: Store, source: Source, local_state: Any, result: PullResult, late: Callable[[], bool]
) -> None:
    """Audit objects into the ledger, verified: the envelope's hash holds and the key names the record."""
    from escher.audit import AuditRecord
    from escher.store.ledger import LedgerEntry

    audit = _state(source.audit_url) if source.audit_url != source.state_url else None
    reader = audit or _state(source.state_url)
    seen = _seen(store, source.audit_url) if audit is not None else set()
    listing = [(i.key, i.version) for i in reader.list("audit/") if i.key.endswith(".json")]
    if audit is None:
        seen = _seen(store, source.state_url)
    entries: list[LedgerEntry] = []
    marks: list[str] = []
    try:
        for key, version in listing:
            if f"{key}#{version}" in seen:
                continue
            if late():
                result.complete = False
                break
            data = reader.get(key).data
            try:
                envelope = json.loads(data)
                canonical = json.dumps(envelope["record"], sort_keys=True, separators=(",", ":")).encode()
                record = AuditRecord.model_validate(envelope["record"])
                ok = hashlib.sha256(canonical).hexdigest() == envelope.get("sha256")
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok or not key.endswith(f"/{record.record_id}.json"):
                # not marked as seen: named again on every sync until it is dealt with
                result.rejected.append(f"{reader.url}{key}")
                continue
            marks.append(f"{key}#{version}")
            entries.append(LedgerEntry.from_audit(record))
            if local_state is not None:  # 'escher alerts timeline' reads them beside the alerts
                local_state.put_if_absent(key, data)
        if entries:
            before = store.ledger.head("audit")[0]
            store.ledger.append(entries)  # idempotent by record id: a record already there is skipped
            result.pulled["audit"] = store.ledger.head("audit")[0] - before
    finally:
        _mark(store, source.audit_url if audit is not None else source.state_url, marks)


def pull_all(
    paths: Paths,
    *,
    timeout: float | None = None,
    store: Store | None = None,
    only: list[Source] | None = None,
) -> list[PullResult]:
    """Pull every extended cloud (or ``only`` these) into the local store; ``timeout`` seconds at most
    (between objects). Nothing extended: nothing done, no store opened."""
    found = only if only is not None else sources(paths)
    if not found:
        return []
    from escher.extend.approvals_remote import ExtendedApprovalStore
    from escher.pipeline.objects import LocalObjects
    from escher.store.keys import load_or_create

    end = None if timeout is None else time.monotonic() + timeout

    def late() -> bool:
        return end is not None and time.monotonic() > end

    own = store is None
    if store is None:
        from escher.store.store import Store

        store = Store.open(paths=paths)
    try:
        approvals = ExtendedApprovalStore(paths.data_dir, signer=load_or_create(paths.data_dir))
        local_state = LocalObjects(paths.data_dir / "state")
        return [pull(store, s, approvals=approvals, local_state=local_state, deadline=late) for s in found]
    finally:
        if own:
            store.close()


def importer(paths: Paths) -> Callable[[str, Any], dict[str, Any]]:
    """For ``escher destroy``: bring one cloud's state home before its storage goes (no time limit)."""

    def run(cloud: str, outputs: Any) -> dict[str, Any]:
        source = source_of(cloud, dict(outputs))
        if source is None:
            return {}
        [result] = pull_all(paths, only=[source])  # a rejected object is named; the export keeps its bytes
        from escher.extend.approvals_remote import ExtendedApprovalStore

        # its requests are home: from now on they are decided here (an extension made later starts afresh)
        ExtendedApprovalStore(paths.data_dir).forget(cloud)
        return {"pulled": result.pulled, "rejected": result.rejected}

    return run


def share(paths: Paths, only: list[Source] | None = None) -> list[dict[str, Any]]:
    """``escher sync --share``: this laptop's own records (scans, chat, operations, alerts, its ledger) go to
    each extension's ``records/`` and other laptops' come back (:func:`escher.store.sync.sync`: content-named
    objects, create-if-absent, each once), so the laptops of one team see the same state."""
    from escher.store.store import Store
    from escher.store.sync import sync

    found = only if only is not None else sources(paths)
    if not found:
        return []
    out = []
    with Store.open(paths=paths) as store:
        for source in found:
            result = sync(store, _state(source.state_url))
            out.append({"cloud": source.cloud, **result.to_dict()})
    return out
