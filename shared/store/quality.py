"""Retrieval quality on the shipped paraphrase set: top-1 accuracy and mean reciprocal rank (MRR).

Each pair's document is indexed as an alert record; each query must find its own document among all of them.
Used by the benchmark (to choose the default embedder) and by a test (so a change that hurts retrieval fails).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from escher.store.models import AlertRecord, SearchFilter
from escher.store.search import SearchMode
from escher.store.store import Store

__all__ = ["Quality", "evaluate", "load_pairs"]


@dataclass(frozen=True)
class Quality:
    label: str
    top1: float
    mrr: float
    n: int


def load_pairs() -> list[tuple[str, str]]:
    text = resources.files("escher.store.data").joinpath("paraphrases.json").read_text(encoding="utf-8")
    return [(p["q"], p["d"]) for p in json.loads(text)["pairs"]]


def index_pairs(store: Store, pairs: list[tuple[str, str]]) -> None:
    store.put_many(
        AlertRecord(alert_kind="event", name=f"doc-{i:03d}", summary=doc) for i, (_, doc) in enumerate(pairs)
    )


def evaluate(store: Store, pairs: list[tuple[str, str]], mode: SearchMode, label: str) -> Quality:
    """Assumes :func:`index_pairs` ran on ``store``; ranks beyond 20 count as misses."""
    hits1 = 0
    rr = 0.0
    only = SearchFilter(kinds=("event",))
    for i, (query, _) in enumerate(pairs):
        ranked = [h.doc_id for h in store.search(query, only, limit=20, mode=mode)]
        want = f"alerts/event:doc-{i:03d}"
        if want in ranked:
            rank = ranked.index(want) + 1
            rr += 1.0 / rank
            hits1 += rank == 1
    return Quality(label, hits1 / len(pairs), rr / len(pairs), len(pairs))
