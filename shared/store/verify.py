"""``escher audit verify``: prove the ledger's chains, or name each record that was tampered with.

What is detected, and how (the attacker is a database superuser who disabled the triggers):

- edited: a row whose ``sha256(prev_hash + payload)`` is not its ``hash``; or, when the attacker also
  re-hashed it, the next row's ``prev_hash`` that points at a hash that exists nowhere;
- deleted: a gap in the sequence numbers (or a chain that starts after 1 without a signed purge marker);
- reordered: a row whose ``prev_hash`` is the hash of a row elsewhere in the chain;
- truncated: a signed checkpoint (database or the file outside it) for a sequence number past the end;
- rewritten history (every hash recomputed): a signed checkpoint whose hash differs from the row's.
Records appended after the last checkpoint are protected by the chain only (see the README).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from escher.store.keys import verify_signature
from escher.store.ledger import (
    CHAINS,
    GENESIS,
    Checkpoint,
    chain_hash,
    checkpoint_file,
    checkpoint_message,
    purge_message,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["ChainReport", "Issue", "VerifyReport", "verify_ledger"]

IssueKind = Literal["edited", "deleted", "reordered", "truncated", "rewritten", "bad_signature"]


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

    @property
    def ok(self) -> bool:
        return all(not c.issues for c in self.chains)

    @property
    def issues(self) -> list[Issue]:
        return [i for c in self.chains for i in c.issues]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "chains": [c.to_dict() for c in self.chains]}


def _trusted_keys(conn: psycopg.Connection[Any], local: dict[str, str]) -> dict[str, str]:
    keys = {str(r[0]): str(r[1]) for r in conn.execute("SELECT key_id, public_key FROM ledger_keys")}
    keys.update(local)  # the local key wins over whatever the database claims for the same id
    return keys


def _checkpoints(
    conn: psycopg.Connection[Any], data_dir: Path | None, store_id: str
) -> list[tuple[Checkpoint, str]]:
    found: dict[tuple[str, int, str, str], tuple[Checkpoint, str]] = {}
    for r in conn.execute("SELECT chain, seq, hash, at, key_id, signature FROM ledger_checkpoints"):
        cp = Checkpoint(str(r[0]), int(r[1]), str(r[2]), _iso(r[3]), str(r[4]), str(r[5]))
        found[(cp.chain, cp.seq, cp.hash, cp.signature)] = (cp, "database")
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
    local_keys: dict[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Walk every chain once (twice where links break, to say where a misplaced record belongs)."""
    store_row = conn.execute("SELECT id FROM store_identity").fetchone()
    store_id = str(store_row[0]) if store_row else ""
    keys = _trusted_keys(conn, local_keys or {})
    checkpoints = _checkpoints(conn, data_dir, store_id)
    reports = []
    for chain in CHAINS:
        report = ChainReport(chain)
        _verify_chain(conn, chain, report, keys, checkpoints, progress)
        reports.append(report)
    return VerifyReport(reports)


def _verify_chain(
    conn: psycopg.Connection[Any],
    chain: str,
    report: ChainReport,
    keys: dict[str, str],
    checkpoints: list[tuple[Checkpoint, str]],
    progress: Callable[[int], None] | None,
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
            report.purged_through = max(report.purged_through, int(r[0]))
        else:
            issues.append(Issue("bad_signature", chain, int(r[0]), None,
                                f"purge marker through seq {r[0]} has no valid signature: ignored"))  # fmt: skip

    breaks: list[tuple[int, str, str]] = []  # (seq, record_id, prev_hash) whose link does not hold
    prev_seq: int | None = None
    prev_hash_stored = ""
    with conn.transaction(), conn.cursor(name=f"verify_{chain}") as cur:
        cur.itersize = 5000
        cur.execute(
            "SELECT seq, record_id, payload, prev_hash, hash FROM reports WHERE chain = %s ORDER BY seq",
            (chain,),
        )
        for seq, record_id, payload, prev_hash, digest in cur:
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
    furthest: tuple[int, str] | None = None  # the checkpoint reaching furthest past the end, if any
    for cp, source in checkpoints:
        if cp.chain != chain:
            continue
        if cp.key_id not in keys or not verify_signature(
            keys[cp.key_id], checkpoint_message(cp.chain, cp.seq, cp.hash, cp.at), cp.signature
        ):
            issues.append(Issue("bad_signature", chain, cp.seq, None,
                                f"checkpoint at seq {cp.seq} ({source}) has no valid signature: ignored"))  # fmt: skip
            continue
        report.checkpoints += 1
        if cp.seq <= report.purged_through:
            continue
        if cp.seq > last:
            if furthest is None or cp.seq > furthest[0]:
                furthest = (cp.seq, source)
            continue
        row = conn.execute(
            "SELECT hash FROM reports WHERE chain = %s AND seq = %s", (chain, cp.seq)
        ).fetchone()
        if row is not None and str(row[0]) != cp.hash:
            issues.append(Issue("rewritten", chain, cp.seq, None,
                                f"record {cp.seq} differs from the signed checkpoint ({source}): the history up "
                                "to it was rewritten and re-hashed"))  # fmt: skip
    if furthest is not None:
        issues.append(Issue("truncated", chain, last + 1, None,
                            f"records {last + 1}..{furthest[0]} are missing: the chain ends at {last or 'nothing'} "
                            f"but a signed checkpoint ({furthest[1]}) covers seq {furthest[0]}"))  # fmt: skip


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
