"""``escher audit verify``: prove the ledger's chains, or name each record that was tampered with.

What is detected, and how (the attacker is a database superuser who disabled the triggers). Nothing read only
from the database is trusted: signatures count only under a key pinned outside it (``keys``), and the heads it
is compared with come from the anchors outside it (:mod:`escher.store.anchor`) as well as its own checkpoints.

- edited: a row whose ``sha256(prev_hash + payload)`` is not its ``hash``; or, when the attacker also
  re-hashed it, the next row's ``prev_hash`` that points at a hash that exists nowhere;
- deleted: a gap in the sequence numbers (or a chain that starts after 1 without a purge marker signed by a
  pinned key);
- reordered: a row whose ``prev_hash`` is the hash of a row elsewhere in the chain;
- forged: rows that no batch signed by a pinned key covers (appended with valid chain hashes by plain INSERT,
  even when a later legitimate batch chains onto them), a batch signature or a purge marker the pinned key did
  not make;
- truncated: a signed anchor or checkpoint for a sequence number past the end;
- rollback: the same, where the database's head is itself an older anchored head (an older copy of the data);
- erased: an empty chain that anchors show had records;
- rewritten history (every hash recomputed): a signed anchor or checkpoint whose hash differs from the row's;
- a key pinned locally that the bucket never saw (``unpinned_key``): the key and the local pin file were both
  replaced. The bucket's heads are checked with the keys pinned in the bucket, never with the local pin file.

A restore accepted with ``escher audit accept-restore`` (an ``audit.accept_restore`` record) is said next to
each rollback, truncation or rewrite of a head anchored before it: the issue stays (the WORM anchors keep saying
it), but the reader learns who accepted it, when and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from escher.store.keys import verify_signature
from escher.store.ledger import (
    CHAINS,
    GENESIS,
    Checkpoint,
    batch_message,
    chain_hash,
    checkpoint_file,
    checkpoint_message,
    purge_message,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["ChainReport", "Issue", "VerifyReport", "verify_ledger"]

IssueKind = Literal[
    "edited",
    "deleted",
    "reordered",
    "forged",
    "truncated",
    "rollback",
    "erased",
    "rewritten",
    "bad_signature",
    "unpinned_key",
]
ACCEPT_RESTORE = "audit.accept_restore"


@dataclass(frozen=True)
class Issue:
    kind: IssueKind
    chain: str
    seq: int
    record_id: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chain": self.chain, "seq": self.seq, "record_id": self.record_id,
                "detail": self.detail}  # fmt: skip


@dataclass
class ChainReport:
    chain: str
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    checkpoints: int = 0
    purged_through: int = 0
    issues: list[Issue] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "checkpoints": self.checkpoints,
            "purged_through": self.purged_through,
            "ok": not self.issues,
            "issues": [i.to_dict() for i in self.issues],
        }


@dataclass
class VerifyReport:
    chains: list[ChainReport]
    keys: list[Issue] = field(
        default_factory=list
    )  # pinned keys that disagree between the pin file and bucket

    @property
    def ok(self) -> bool:
        return not self.keys and all(not c.issues for c in self.chains)

    @property
    def issues(self) -> list[Issue]:
        return [*self.keys, *(i for c in self.chains for i in c.issues)]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "chains": [c.to_dict() for c in self.chains],
                "keys": [i.to_dict() for i in self.keys]}  # fmt: skip


def _checkpoints(
    conn: psycopg.Connection[Any],
    data_dir: Path | None,
    store_id: str,
    anchors: Sequence[tuple[Checkpoint, str]],
) -> list[tuple[Checkpoint, str]]:
    found: dict[tuple[str, int, str, str], tuple[Checkpoint, str]] = {}
    for cp, source in anchors:  # first: an anchor outside the database is the source worth naming
        found.setdefault((cp.chain, cp.seq, cp.hash, cp.signature), (cp, source))
    for r in conn.execute("SELECT chain, seq, hash, at, key_id, signature FROM ledger_checkpoints"):
        cp = Checkpoint(str(r[0]), int(r[1]), str(r[2]), _iso(r[3]), str(r[4]), str(r[5]))
        found.setdefault((cp.chain, cp.seq, cp.hash, cp.signature), (cp, "database"))
    path = checkpoint_file(data_dir) if data_dir else None
    if path is not None and path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue  # a torn last line after a crash: the line before it still stands
            if data.get("store_id") != store_id:
                continue
            cp = Checkpoint(data["chain"], int(data["seq"]), data["hash"], data["at"], data["key_id"],
                            data["signature"])  # fmt: skip
            found.setdefault((cp.chain, cp.seq, cp.hash, cp.signature), (cp, str(path)))
    return list(found.values())


def _iso(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def verify_ledger(
    conn: psycopg.Connection[Any],
    *,
    data_dir: Path | None,
    keys: dict[str, str],
    anchors: Sequence[tuple[Checkpoint, str]] = (),
    bucket: tuple[str, dict[str, str]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Walk every chain once (twice where links break, to say where a misplaced record belongs).

    ``keys``: the pinned public keys (key id -> base64), never the database's ``ledger_keys``. ``anchors``: the
    signed heads kept outside the database, each with where it was read (a path or a bucket URL). ``bucket``:
    the bucket's URL and the keys pinned there; the heads read from it are checked with those keys only.
    """
    store_row = conn.execute("SELECT id FROM store_identity").fetchone()
    store_id = str(store_row[0]) if store_row else ""
    checkpoints = _checkpoints(conn, data_dir, store_id, anchors)
    local_only: set[str] = set()
    # a bucket from before keys were pinned there holds none yet: no verdict on the keys, local keys for its heads
    if bucket is not None and bucket[1]:
        url, remote = bucket
        local_only = set(keys) - set(remote)
        checkpoints = [(_as_remote(cp) if source == url else cp, source) for cp, source in checkpoints]
        keys = {**keys, **{f"{_REMOTE}{k}": v for k, v in remote.items()}}
    accepted = _accepted_restores(conn)
    reports = []
    signers: set[str] = set()  # keys that vouch for rows or purges: a new machine's unused key is not named
    for chain in CHAINS:
        report = ChainReport(chain)
        _verify_chain(conn, chain, report, keys, checkpoints, progress, signers)
        for i, issue in enumerate(report.issues):
            said = [text for heads, text in accepted if issue.seq <= heads.get(chain, 0)]
            if issue.kind in ("rollback", "truncated", "rewritten") and said:
                report.issues[i] = replace(issue, detail="; ".join([issue.detail, *said]))
        reports.append(report)
    return VerifyReport(reports, [_unpinned(k, bucket[0]) for k in sorted(local_only & signers) if bucket])


def _unpinned(key_id: str, url: str) -> Issue:
    return Issue("unpinned_key", "", 0, None,
                 f"key {key_id} is pinned locally but not pinned in the bucket {url}: the signing key and the local "
                 "pin file were replaced (or the key was pinned by hand); what it signed is not Escher's until you "
                 "have checked it")  # fmt: skip


_REMOTE = "bucket:"  # the bucket's keys under their own names: a head read from the bucket uses only those


def _as_remote(cp: Checkpoint) -> Checkpoint:
    return replace(cp, key_id=f"{_REMOTE}{cp.key_id}")


def _accepted_restores(conn: psycopg.Connection[Any]) -> list[tuple[dict[str, int], str]]:
    """Each audit.accept_restore record: the head seq per chain that the anchors it moved aside held (an issue
    past those is not what was accepted), and 'a restore was accepted by X on T: reason'."""
    found = []
    for (payload,) in conn.execute(
        "SELECT payload FROM reports WHERE chain = 'audit' AND payload LIKE %s"
        " AND payload::jsonb ->> 'action' = %s ORDER BY seq",
        (f'%"{ACCEPT_RESTORE}"%', ACCEPT_RESTORE),
    ):
        data = json.loads(payload)
        held = (data.get("details") or {}).get("anchored_heads") or {}
        heads = {str(c): int(h.get("seq", 0)) for c, h in held.items() if isinstance(h, dict)}
        found.append((heads, f"a restore was accepted by {data.get('actor')} on {data.get('at')}: "
                             f"{data.get('reason')}"))  # fmt: skip
    return found


def _verify_chain(
    conn: psycopg.Connection[Any],
    chain: str,
    report: ChainReport,
    keys: dict[str, str],
    checkpoints: list[tuple[Checkpoint, str]],
    progress: Callable[[int], None] | None,
    signers: set[str],
) -> None:
    issues = report.issues
    # signed purge markers: where the chain may legitimately start
    anchors: dict[int, str] = {0: GENESIS}
    for r in conn.execute(
        "SELECT through_seq, through_hash, removed, at, key_id, signature FROM ledger_purges WHERE chain = %s",
        (chain,),
    ):
        message = purge_message(chain, int(r[0]), str(r[1]), int(r[2]), _iso(r[3]))
        if str(r[4]) in keys and verify_signature(keys[str(r[4])], message, str(r[5])):
            anchors[int(r[0])] = str(r[1])
            signers.add(str(r[4]))
            report.purged_through = max(report.purged_through, int(r[0]))
        else:
            why = "its signature is invalid" if str(r[4]) in keys else f"its key {r[4]} is not pinned"
            issues.append(Issue("forged", chain, int(r[0]), None,
                                f"purge marker through seq {r[0]} ({r[2]} records) is forged: {why}; the records "
                                "it claims were purged by retention were deleted without the signing key"))  # fmt: skip

    breaks: list[tuple[int, str, str]] = []  # (seq, record_id, prev_hash) whose link does not hold
    prev_seq: int | None = None
    prev_hash_stored = ""
    covered = report.purged_through  # the last seq a signed batch (or signed purge) vouches for
    unsigned: list[tuple[int, str]] = []  # rows after `covered` so far
    spans: list[list[tuple[int, str]]] = []  # runs of rows no signed batch covers
    gaps: dict[int, int] = {}  # first missing seq -> index of its 'deleted' issue
    with conn.transaction(), conn.cursor(name=f"verify_{chain}") as cur:
        cur.itersize = 5000
        cur.execute(
            "SELECT seq, record_id, payload, prev_hash, hash, batch_from, key_id, signature FROM reports"
            " WHERE chain = %s ORDER BY seq",
            (chain,),
        )
        for seq, record_id, payload, prev_hash, digest, batch_from, key_id, signature in cur:
            unsigned.append((seq, record_id))
            if signature is not None:
                if key_id in keys and verify_signature(
                    keys[key_id], batch_message(chain, batch_from, seq, digest), signature
                ):
                    outside = [u for u in unsigned if u[0] < batch_from]
                    if outside:
                        spans.append(outside)
                    unsigned, covered = [], max(covered, seq)
                    signers.add(key_id)
                else:
                    why = (
                        "an invalid signature"
                        if key_id in keys
                        else f"a signature by key {key_id}, not pinned"
                    )
                    issues.append(Issue("forged", chain, seq, record_id,
                                        f"record {seq} ({record_id}) carries {why}: it was not written by "
                                        "Escher's signing key"))  # fmt: skip
            report.records += 1
            if progress is not None and report.records % 5000 == 0:
                progress(5000)
            content_ok = chain_hash(prev_hash, payload) == digest
            if not content_ok:
                issues.append(Issue("edited", chain, seq, record_id,
                                    f"record {seq} ({record_id}) was edited: its content does not match its hash"))  # fmt: skip
            if prev_seq is None:
                report.first_seq = seq
                anchor = anchors.get(seq - 1)
                if anchor is None:
                    issues.append(Issue("deleted", chain, 1, None,
                                        f"records {max(report.purged_through, 0) + 1}..{seq - 1} were deleted "
                                        "from the start of the chain, with no signed retention purge"))  # fmt: skip
                elif prev_hash != anchor:
                    breaks.append((seq, record_id, prev_hash))
            else:
                if seq != prev_seq + 1:
                    missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}..{seq - 1}"
                    gaps[prev_seq + 1] = len(issues)
                    issues.append(Issue("deleted", chain, prev_seq + 1, None,
                                        f"record {missing} deleted: the chain jumps from {prev_seq} to {seq}"))  # fmt: skip
                elif prev_hash != prev_hash_stored:
                    breaks.append((seq, record_id, prev_hash))
            prev_seq, prev_hash_stored = seq, digest
    report.last_seq = prev_seq
    if breaks:
        _explain_breaks(conn, chain, breaks, issues)
    if progress is not None:
        progress(report.records % 5000)

    last = prev_seq or report.purged_through
    furthest: tuple[Checkpoint, str] | None = None  # the checkpoint reaching furthest past the end, if any
    legacy_through = 0  # unsigned rows up to here are vouched for by a checkpoint from before signed batches
    mine = [(cp, source) for cp, source in checkpoints if cp.chain == chain]
    stored = {  # one query for the rows every checkpoint and anchor names
        int(r[0]): str(r[1])
        for r in conn.execute(
            "SELECT seq, hash FROM reports WHERE chain = %s AND seq = ANY(%s)",
            (chain, sorted({cp.seq for cp, _ in mine if cp.seq <= last})),
        )
    }
    # Signatures are checked only where a head would prove something: a mismatch (rewritten), the furthest past
    # the end (truncated, rollback, erased), the database's own head, and old checkpoints for unsigned rows. A
    # matching head needs none, which keeps verify linear in the chain, not in the anchors (one per append).
    matching: list[tuple[Checkpoint, str]] = []
    past: list[tuple[Checkpoint, str]] = []
    for cp, source in mine:
        if cp.seq <= report.purged_through:
            continue
        if cp.seq > last:
            past.append((cp, source))
            continue
        row_hash = stored.get(cp.seq)
        if row_hash is None:
            continue  # its row is gone: the gap is named above
        if row_hash == cp.hash:
            matching.append((cp, source))
        elif _signed_version(cp, keys) is None:
            issues.append(_unsigned_head(chain, cp, source))
        else:
            report.checkpoints += 1
            issues.append(Issue("rewritten", chain, cp.seq, None,
                                f"record {cp.seq} differs from the signed head anchored in {source}: the history "
                                "up to it was rewritten and re-hashed"))  # fmt: skip
    report.checkpoints += len(matching)
    for cp, source in sorted(past, key=lambda item: -item[0].seq):
        if _signed_version(cp, keys) is None:
            issues.append(_unsigned_head(chain, cp, source))
            continue
        report.checkpoints += 1
        furthest = (cp, source)
        break
    head_anchored = next(
        (cp for cp, _ in matching if cp.seq == prev_seq and _signed_version(cp, keys) is not None), None
    )
    if furthest is not None:
        cp, source = furthest
        if report.records == 0:
            kind: IssueKind = "erased"
            detail = (f"the {chain} chain is empty, but a signed head in {source} shows it held records up to "
                      f"seq {cp.seq} on {cp.at}: the database was erased or replaced by an empty one")  # fmt: skip
        elif head_anchored is not None:
            kind = "rollback"
            detail = (f"the database is an older copy: its head, seq {last}, was anchored on {head_anchored.at}, "
                      f"but {source} shows the chain reached seq {cp.seq} on {cp.at}; records "
                      f"{last + 1}..{cp.seq} are missing")  # fmt: skip
        else:
            kind = "truncated"
            detail = (f"records {last + 1}..{cp.seq} are missing: the chain ends at {last or 'nothing'} but a "
                      f"signed head ({source}) covers seq {cp.seq}")  # fmt: skip
        issues.append(Issue(kind, chain, last + 1, None, detail))
    elif unsigned:  # a cut-off chain leaves its last batch unsigned: then the truncation says why
        spans.append(unsigned)
    if spans:  # rows no batch signed: from before signed batches, if a version-1 checkpoint vouches for them
        lowest, highest = spans[0][0][0], spans[-1][-1][0]
        for cp, _ in sorted(matching, key=lambda item: -item[0].seq):
            if cp.seq < lowest:
                break
            if cp.seq <= highest and _signed_version(cp, keys) == 1:
                legacy_through = cp.seq
                break
    for span in spans:
        span = [u for u in span if u[0] > legacy_through]
        if span and span[-1][0] + 1 in gaps:  # the deleted row was the one that signed these: say so there
            at = gaps[span[-1][0] + 1]
            lost = f"{span[0][0]}..{span[-1][0]}" if len(span) > 1 else str(span[0][0])
            issues[at] = replace(issues[at], detail=f"{issues[at].detail}; it signed the batch before it, so "
                                                    f"records {lost} can no longer be vouched for")  # fmt: skip
        elif span:
            (lo, first_id), hi = span[0], span[-1][0]
            where = f"record {lo} ({first_id})" if lo == hi else f"records {lo}..{hi} (from {first_id})"
            issues.append(Issue("forged", chain, lo, first_id,
                                f"{where}: no batch signed by the pinned key covers "
                                f"{'it' if lo == hi else 'them'}; inserted directly into the database"))  # fmt: skip


def _unsigned_head(chain: str, cp: Checkpoint, source: str) -> Issue:
    return Issue("bad_signature", chain, cp.seq, None,
                 f"checkpoint at seq {cp.seq} ({source}) has no valid signature by a pinned key: ignored")  # fmt: skip


def _signed_version(cp: Checkpoint, keys: dict[str, str]) -> int | None:
    """2 for a head signed today, 1 for a checkpoint signed before batches were; None if no pinned key made it."""
    key = keys.get(cp.key_id)
    if key is None:
        return None
    for version in (2, 1):
        if verify_signature(
            key, checkpoint_message(cp.chain, cp.seq, cp.hash, cp.at, version=version), cp.signature
        ):
            return version
    return None


def _explain_breaks(
    conn: psycopg.Connection[Any], chain: str, breaks: list[tuple[int, str, str]], issues: list[Issue]
) -> None:
    wanted = {prev for _, _, prev in breaks}
    where: dict[str, int] = {}
    with conn.transaction(), conn.cursor(name=f"explain_{chain}") as cur:
        cur.itersize = 5000
        cur.execute("SELECT seq, hash FROM reports WHERE chain = %s", (chain,))
        for seq, digest in cur:
            if digest in wanted:
                where[digest] = int(seq)
    edited = {i.seq for i in issues if i.kind == "edited"}
    for seq, record_id, prev in breaks:
        owner = where.get(prev)
        if owner is not None:
            issues.append(Issue("reordered", chain, seq, record_id,
                                f"record {seq} ({record_id}) is out of order: it was written after the record "
                                f"now at seq {owner}"))  # fmt: skip
        elif seq - 1 not in edited:
            issues.append(Issue("edited", chain, seq - 1, None,
                                f"record {seq - 1} was edited and re-hashed: record {seq} still links to its "
                                "original hash"))  # fmt: skip
