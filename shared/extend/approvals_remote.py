"""Approval requests the extension's workers raised, decided on the laptop and carried out by the next worker run.

A worker holds an event it may not fix alone as ``approvals/<id>.json`` in the state storage. ``escher sync``
(:func:`pull_approvals`) copies each into the laptop's approvals file and remembers where it came from and the
version it read (``<data dir>/extend/remote-approvals.json``). Deciding one on the laptop
(:class:`ExtendedApprovalStore`) writes back to the storage before anything changes locally, with conditional
writes only:

1. the grant ``approvals/grants/<id>.json``, create-if-absent: the decision bound to the approver and to the
   SHA-256 of the request as it was read (:func:`request_digest`), signed with the approver's own key
   (:func:`escher.store.keys.approver_key`, whose public half the published settings carry). A second decision
   (another laptop, a second manager) finds it there and is refused;
2. the request itself, compare-and-swap on the version read: a worker or laptop that changed it meanwhile makes
   this refuse, and nothing is recorded.

Only then does the local copy change and the ledger record the act (:class:`escher.policy.approvals.Approvals`).
The worker (:mod:`escher.pipeline.granted`) runs an approved request only when its grant names this request's
digest and a manager other than the requester, and is signed by the key the published settings name for that
manager (:func:`approver_keys`); the key a grant carries is never trusted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escher.policy._jsonfile import JsonDocument
from escher.policy.approvals import ApprovalRequest, JsonFileApprovalStore
from escher.policy.errors import ApprovalError

if TYPE_CHECKING:
    from escher.pipeline.objects import PipelineObjects
    from escher.store.keys import SigningKey

__all__ = [
    "GRANTS",
    "PREFIX",
    "ExtendedApprovalStore",
    "Grant",
    "approver_keys",
    "grant_message",
    "pull_approvals",
    "request_digest",
]

PREFIX = "approvals/"
GRANTS = "approvals/grants/"


def request_digest(req: ApprovalRequest) -> str:
    """What a decision binds to: the request as asked (never its status), canonical JSON, SHA-256."""
    asked = req.model_dump(mode="json", include={"request_id", "operation", "targets", "params", "reason",
                                                  "requested_by", "requested_at", "expires_at"})  # fmt: skip
    return hashlib.sha256(json.dumps(asked, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    request_id: str
    request_sha256: str
    decision: str  # approved | rejected
    decided_by: str
    decided_at: str
    note: str = ""
    key_id: str = ""
    public_key: str = ""
    signature: str = ""

    def unsigned(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "signature"}

    def to_bytes(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Grant:
        raw = json.loads(data)
        return cls(**{k: str(raw.get(k, "")) for k in cls.__dataclass_fields__})


def grant_message(grant: Grant) -> bytes:
    return json.dumps(grant.unsigned(), sort_keys=True, separators=(",", ":")).encode()


def approver_keys(data_dir: Path, extensions: dict[str, Any], env: dict[str, str]) -> dict[str, list[str]]:
    """What the published settings carry as ``approvers``: each person who may decide -> the public half of their
    approver key on this laptop (created on first use), and of those listed for them in ``keys/approvers.pub``
    (their keys on other laptops of the team). Those are the managers of ``[personas]``; with no managers named
    (single-operator mode), the one local operator."""
    from escher.policy.personas import current_actor, load_personas
    from escher.store.keys import approver_key, imported_approver_keys

    personas = load_personas(extensions)
    names = personas.managers if personas is not None and personas.managers else []
    if not names:
        names = [current_actor(extensions, env).name]
    imported = imported_approver_keys(data_dir)
    return {
        name: sorted({approver_key(data_dir, name).public_key_b64, *imported.get(name, [])})
        for name in sorted(set(names))
    }


@dataclass
class _Origin:
    cloud: str
    url: str
    listed: str = ""  # the version the listing showed (what sync compares)
    version: str = ""  # the version read (what a compare-and-swap must match)


@dataclass
class ExtendedApprovalStore:
    """The laptop's approvals file, with requests that came from the extension written back there first."""

    data_dir: Path
    # Not what signs a grant (each decider signs with their own approver key, see _write_grant); kept for callers.
    signer: SigningKey | None = None
    open_objects: Any = None  # url -> PipelineObjects (the real one by default; a fake in tests)
    _stores: dict[str, PipelineObjects] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.local = JsonFileApprovalStore(self.data_dir)
        self.index = JsonDocument(self.data_dir / "extend" / "remote-approvals.json")

    def objects(self, url: str) -> PipelineObjects:
        if url not in self._stores:
            if self.open_objects is not None:
                self._stores[url] = self.open_objects(url)
            else:
                from escher.pipeline.objects import open_objects

                self._stores[url] = open_objects(url)
        return self._stores[url]

    def origin(self, request_id: str) -> _Origin | None:
        raw = self.index.read().get(request_id)
        return None if raw is None else _Origin(**raw)

    # -- ApprovalStore ----------------------------------------------------------------------------------
    def get(self, request_id: str) -> ApprovalRequest | None:
        return self.local.get(request_id)

    def all(self) -> list[ApprovalRequest]:
        return self.local.all()

    def put(self, request: ApprovalRequest) -> None:
        origin = self.origin(request.request_id)
        if origin is None:  # made on this laptop: it stays here
            self.local.put(request)
            return
        objects = self.objects(origin.url)
        key = f"{PREFIX}{request.request_id}.json"
        current = objects.get(key)
        if current is None:
            raise ApprovalError(
                f"approval request {request.request_id} is gone from the {origin.cloud} extension",
                hint="run 'escher sync' and see 'escher approvals list'",
            )
        remote = ApprovalRequest.model_validate_json(current.data)
        if current.version != origin.version:
            self._keep(remote, origin, origin.listed, current.version)
            raise ApprovalError(
                f"approval request {request.request_id} changed on the {origin.cloud} extension since it was "
                f"read (it is {remote.status} there): nothing was recorded",
                hint="see 'escher approvals list' (now up to date) and decide again if it is still pending",
            )
        if request.status in ("approved", "rejected") and remote.status == "pending":
            self._write_grant(objects, request, origin)
        version = objects.replace(key, request.model_dump_json().encode(), current.version)
        if version is None:
            raise ApprovalError(
                f"approval request {request.request_id} changed on the {origin.cloud} extension while it was "
                "being decided: nothing was recorded",
                hint="run 'escher sync' and decide again if it is still pending",
            )
        self._keep(request, origin, origin.listed, version)

    def _write_grant(self, objects: PipelineObjects, request: ApprovalRequest, origin: _Origin) -> None:
        from escher.store.keys import approver_key

        signer = approver_key(self.data_dir, request.decided_by) if request.decided_by else None
        grant = Grant(
            request_id=request.request_id,
            request_sha256=request_digest(request),
            decision=request.status,
            decided_by=request.decided_by or "",
            decided_at=request.decided_at.isoformat() if request.decided_at else "",
            note=request.note,
            key_id=signer.key_id if signer else "",
            public_key=signer.public_key_b64 if signer else "",  # to read: the worker never trusts it
        )
        if signer is not None:
            grant = Grant(**{**grant.__dict__, "signature": signer.sign(grant_message(grant))})
        if objects.put_if_absent(f"{GRANTS}{request.request_id}.json", grant.to_bytes()) is None:
            raise ApprovalError(
                f"approval request {request.request_id} was already decided on the {origin.cloud} extension "
                "(another laptop or manager): nothing was recorded",
                hint="run 'escher sync' and see 'escher approvals list'",
            )

    def forget(self, cloud: str) -> int:
        """After destroy: the requests from ``cloud`` are home and stay here (decided locally from now on)."""
        gone: list[str] = []

        def change(data: dict[str, Any]) -> None:
            for request_id in [k for k, v in data.items() if v.get("cloud") == cloud]:
                gone.append(request_id)
                del data[request_id]

        self.index.update(change)
        return len(gone)

    def _keep(self, request: ApprovalRequest, origin: _Origin, listed: str, version: str) -> None:
        self.local.put(request)

        def change(data: dict[str, Any]) -> None:
            data[request.request_id] = {"cloud": origin.cloud, "url": origin.url, "listed": listed,
                                        "version": version}  # fmt: skip

        self.index.update(change)


def pull_approvals(
    store: ExtendedApprovalStore, cloud: str, url: str, listing: dict[str, str], *, deadline: Any = None
) -> int:
    """Copy the extension's requests (``listing``: key -> listed version under ``approvals/``) that changed
    since the last sync into the laptop's file; how many were copied."""
    objects = store.objects(url)
    known = store.index.read()
    pulled = 0
    for key, listed in sorted(listing.items()):
        rest = key[len(PREFIX) :]
        if "/" in rest or not rest.endswith(".json"):
            continue  # grants/, keys/: not requests
        request_id = rest[: -len(".json")]
        if known.get(request_id, {}).get("listed") == listed:
            continue
        if deadline is not None and deadline():
            break
        item = objects.get(key)
        if item is None:
            continue
        request = ApprovalRequest.model_validate_json(item.data)
        store._keep(request, _Origin(cloud, url), listed, item.version)
        pulled += 1
    return pulled
