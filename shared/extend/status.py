"""``escher extend status`` (and ``escher status``): what is deployed, when its worker last ran, what it did, and
whether it runs the laptop's settings.

Per extended cloud, from the local record (``escher.infra.driver``: mode, region, since, the stack's outputs)
and then from the extension's state storage (the stack's ``state_url``), read only, listed once:

- the worker's last runs: ``reports/daily/<day>.json`` (the daily job: when it started, which parts failed),
  and the newest scan, morning report and morning digest objects;
- what it did that this laptop has not pulled yet (``escher sync`` marks each ``key#version`` it pulled, in the
  local store's ``sync_seen``): scans, reports, alerts, approval requests, audit records and, among those,
  remediations the worker carried out;
- the settings: the published ``settings/effective.json``'s SHA-256 against the hash of the settings on this
  laptop now (:func:`escher.extend.settings_doc.build_content`): in sync, or differs (``escher extend
  sync-settings`` publishes them).

A storage that cannot be read is said, with the local part still shown (from the last publish record); a
local store that cannot be opened leaves the counts unknown. Neither fails the command.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.config import Paths
    from escher.store.store import Store

__all__ = ["NOTHING_DEPLOYED", "SYNC_COMMAND", "extension_status"]

NOTHING_DEPLOYED = "Nothing is deployed. Run escher extend aws|azure|gcp."
SYNC_COMMAND = "escher extend sync-settings"
AUDIT_READ_LIMIT = 500  # unpulled audit objects read to count remediations; beyond it the count is a floor
REMEDIATION = re.compile(r"^(aws|azure|gcp)\.[a-z0-9_]+\.[a-z0-9_]+$")  # a catalogue operation id
DONE = frozenset({"succeeded", "verified"})
# what the worker writes, by prefix, as counted "since the last sync"
KINDS = (("scans", "reports/scan/"), ("reports", "reports/report/"), ("alerts", "alerts/"))

StateOpener = Callable[[str], Any]  # a state URL -> an ``escher.state`` backend (list with versions, get)


def _open_state(url: str) -> Any:
    from escher.pipeline.objects import open_objects

    state = getattr(open_objects(url), "state", None)
    if state is None:
        raise EscherError(f"{url} cannot be listed", hint="use an s3://, gs://, az:// or file URL")
    return state


def _failure(exc: Exception) -> str | None:
    """A person's sentence for why the storage could not be read; None for a bug (the caller re-raises)."""
    if isinstance(exc, EscherError):
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    from escher.clouds.errors import translate

    error = translate(exc)
    return None if error is None else error.message + (f" ({error.hint})" if error.hint else "")


def extension_status(
    paths: Paths,
    *,
    env: Mapping[str, str] | None = None,
    open_state: StateOpener = _open_state,
    store: Store | None = None,
) -> dict[str, Any]:
    """The status of every cloud (the local record's keys of :func:`escher.infra.driver.status`, plus for each
    extended cloud ``worker``, ``since_last_sync``, ``settings`` and ``storage``)."""
    from escher.infra.driver import status as local_status

    data = local_status(paths, env)
    deployed = [c for c, entry in data["clouds"].items() if entry.get("mode") == "thin-client"]
    data["deployed"] = deployed
    if not deployed:
        data["message"] = NOTHING_DEPLOYED
        return data
    laptop_sha, laptop_error = _laptop_hash(paths, env)
    seen = _SeenMarks(paths, store)
    try:
        for cloud in deployed:
            entry = data["clouds"][cloud]
            entry["since"] = entry.get("deployed_at", "")
            entry.update(_cloud(paths, cloud, entry.get("outputs") or {}, open_state, seen))
            entry["settings"] = _settings_state(
                paths, cloud, entry.pop("_published"), laptop_sha, laptop_error
            )
    finally:
        seen.close()
    return data


def _laptop_hash(paths: Paths, env: Mapping[str, str] | None) -> tuple[str | None, str | None]:
    import os

    from escher.config import load_settings
    from escher.extend.settings_doc import build_content

    environ = dict(os.environ if env is None else env)
    try:
        return build_content(load_settings(paths, environ), paths, environ).sha256, None
    except EscherError as exc:
        return None, exc.message


class _SeenMarks:
    """The ``key#version`` marks ``escher sync`` left in the local store, opened once, only when needed."""

    def __init__(self, paths: Paths, store: Store | None) -> None:
        self.paths = paths
        self.store = store
        self.own = False
        self.error: str | None = None

    def marks(self, url: str) -> set[str] | None:
        from escher.extend.pull import _seen

        if self.store is None and self.error is None:
            try:
                from escher.store.store import Store

                self.store, self.own = Store.open(paths=self.paths), True
            except EscherError as exc:
                self.error = exc.message
        if self.store is None:
            return None
        return _seen(self.store, url)

    def close(self) -> None:
        if self.own and self.store is not None:
            self.store.close()


def _cloud(paths: Paths, cloud: str, outputs: Mapping[str, Any], open_state: StateOpener,
           seen: _SeenMarks) -> dict[str, Any]:  # fmt: skip
    from escher.extend.pull import source_of

    source = source_of(cloud, dict(outputs))
    out: dict[str, Any] = {"state_url": source.state_url if source else None, "worker": None,
                           "since_last_sync": None, "_published": None}  # fmt: skip
    if source is None:
        out["storage"] = {
            "reachable": False,
            "error": "the stack's outputs name no state storage (state_url)",
        }
        return out
    try:
        state = open_state(source.state_url)
        listing = {info.key: info.version for info in state.list("")}
        out["worker"] = _worker(state, listing)
        out["_published"] = _published(state, listing)
        out["since_last_sync"] = _unpulled(paths, cloud, source, state, listing, open_state, seen)
    except Exception as exc:  # said, never raised: the local part is still worth showing
        reason = _failure(exc)
        if reason is None:
            raise  # a bug
        out["storage"] = {"reachable": False, "error": reason}
        return out
    out["storage"] = {"reachable": True, "objects": len(listing)}
    return out


def _newest(listing: Mapping[str, str], prefix: str) -> str | None:
    keys = sorted(
        k[len(prefix) : -len(".json")] for k in listing if k.startswith(prefix) and k.endswith(".json")
    )
    return keys[-1] if keys else None


def _worker(state: Any, listing: Mapping[str, str]) -> dict[str, Any]:
    """When the worker last ran and how it went, from the objects its jobs write."""
    day = _newest(listing, "reports/daily/")
    daily: dict[str, Any] | None = None
    if day is not None:
        body = json.loads(state.get(f"reports/daily/{day}.json").data)
        daily = {"day": day, "started_at": body.get("started_at"), "failed": list(body.get("failed", []))}
    return {
        "last_daily_job": daily,
        "last_scan": _newest(listing, "reports/scan/"),
        "last_report": _newest(listing, "reports/report/"),
        "last_morning_digest": _newest(listing, "reports/morning-digest/"),
    }


def _published(state: Any, listing: Mapping[str, str]) -> dict[str, Any]:
    from escher.extend.settings_doc import SETTINGS_KEY, SettingsDocumentError, parse_document

    if SETTINGS_KEY not in listing:
        return {"present": False}
    try:
        doc = parse_document(state.get(SETTINGS_KEY).data, f"{state.url}{SETTINGS_KEY}")
    except SettingsDocumentError as exc:
        return {"present": True, "error": exc.message}
    return {"present": True, "sha256": doc.sha256, "version": doc.version, "published_at": doc.published_at,
            "published_by": doc.published_by}  # fmt: skip


def _unpulled(paths: Paths, cloud: str, source: Any, state: Any, listing: Mapping[str, str],
              open_state: StateOpener, seen: _SeenMarks) -> dict[str, Any] | None:  # fmt: skip
    """What the extension wrote that ``escher sync`` has not brought to this laptop yet."""
    from escher.extend.approvals_remote import PREFIX, ExtendedApprovalStore

    marks = seen.marks(source.state_url)
    if marks is None:
        return None
    counts: dict[str, Any] = {}
    for name, prefix in KINDS:
        counts[name] = sum(1 for k, v in listing.items()
                           if k.startswith(prefix) and k.endswith(".json") and f"{k}#{v}" not in marks)  # fmt: skip
    known = ExtendedApprovalStore(paths.data_dir).index.read()
    counts["approvals"] = sum(
        1
        for k, v in listing.items()
        if k.startswith(PREFIX) and "/" not in k[len(PREFIX) :] and k.endswith(".json")
        and known.get(k[len(PREFIX) : -len(".json")], {}).get("listed") != v
    )  # fmt: skip
    audit = open_state(source.audit_url) if source.audit_url != source.state_url else state
    audit_marks = seen.marks(source.audit_url) if audit is not state else marks
    fresh = [i.key for i in audit.list("audit/") if i.key.endswith(".json")
             and f"{i.key}#{i.version}" not in (audit_marks or set())]  # fmt: skip
    counts["audit"] = len(fresh)
    remediations = 0
    for key in fresh[:AUDIT_READ_LIMIT]:
        try:
            record = json.loads(audit.get(key).data)["record"]
        except (ValueError, KeyError, TypeError):
            continue  # 'escher sync' names a malformed object; here it is only not counted
        if REMEDIATION.match(str(record.get("action", ""))) and record.get("outcome") in DONE:
            remediations += 1
    counts["remediations"] = remediations
    counts["complete"] = len(fresh) <= AUDIT_READ_LIMIT
    return counts


def _settings_state(paths: Paths, cloud: str, published: dict[str, Any] | None, laptop: str | None,
                    laptop_error: str | None) -> dict[str, Any]:  # fmt: skip
    """In sync when the published document's hash is the laptop's; without the storage, the last publish
    record (``<data dir>/extend/<cloud>-settings.json``) stands in, and says so."""
    out: dict[str, Any] = {"laptop_sha256": laptop}
    if published is None:
        record = _record(paths, cloud)
        out.update(source="last publish record (the storage was not read)", published_sha256=record.get("sha256"),
                   version=record.get("version"))  # fmt: skip
    elif not published.get("present"):
        out.update(source="storage", published_sha256=None, version=None)
    else:
        out.update(source="storage", published_sha256=published.get("sha256"), version=published.get("version"),
                   published_at=published.get("published_at"), published_by=published.get("published_by"))  # fmt: skip
        if published.get("error"):
            out["error"] = published["error"]
    if laptop is None:
        out.update(state="unknown", detail=f"this laptop's settings cannot be read: {laptop_error}")
    elif out["published_sha256"] is None:
        out.update(state="not published", detail=f"run {SYNC_COMMAND}")
    elif out["published_sha256"] == laptop:
        out.update(state="in sync", detail="the extension runs this laptop's settings")
    else:
        out.update(state="differs", detail=f"run {SYNC_COMMAND}")
    return out


def _record(paths: Paths, cloud: str) -> dict[str, Any]:
    path = paths.data_dir / "extend" / f"{cloud}-settings.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else {}
    except (OSError, json.JSONDecodeError):
        return {}
