"""Retrieval quality on the shipped paraphrase set: the default must keep what the benchmark measured."""

from __future__ import annotations

from escher.config import Paths
from escher.embed import get_embedder
from escher.store.quality import evaluate, index_pairs, load_pairs
from escher.store.store import Store


def test_paraphrase_set_is_big_enough_and_distinct() -> None:
    pairs = load_pairs()
    assert len(pairs) >= 40
    assert len({q for q, _ in pairs}) == len({d for _, d in pairs}) == len(pairs)


def test_default_hybrid_beats_plain_hashing_and_full_text(pg_database: str, store_paths: Paths) -> None:
    pairs = load_pairs()
    with Store.open(paths=store_paths, url=pg_database) as store:
        index_pairs(store, pairs)
        hybrid = evaluate(store, pairs, "hybrid", "default hybrid")
        text = evaluate(store, pairs, "text", "full text")
        store.embedder = get_embedder("hashing")
        store.reindex()
        plain = evaluate(store, pairs, "vector", "plain hashing")
    assert hybrid.mrr >= 0.70 and hybrid.top1 >= 0.55  # measured: 0.778 / 0.61
    assert hybrid.mrr > text.mrr and hybrid.mrr > plain.mrr + 0.3
