"""Embedders and synonym expansion: pure functions, no database."""

from __future__ import annotations

import math

import pytest

from escher.embed import DIMENSIONS, Embedder, EmbedderError, expand, get_embedder, tokens
from escher.embed._synonyms import concepts, stem


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_stemming_and_tokens() -> None:
    assert tokens("Stopping the idle VMs, please") == ["stop", "idle", "vm"]
    assert [stem(w) for w in ("instances", "policies", "stopped", "running", "access")] == [
        "instance", "policy", "stop", "run", "access"]  # fmt: skip


def test_expansion_maps_paraphrases_to_shared_concepts() -> None:
    a, b = concepts("stop idle dev instances"), concepts("shut down unused development VMs")
    assert set(a) == set(b) == {"xstop", "xidle", "xnonprod", "xcompute"}
    assert "xpublic" in concepts("bucket open to the internet")
    assert expand("nothing to see") == "nothing to see"


@pytest.mark.parametrize("name", ["hashing", "hashing-syn"])
def test_hashing_vectors_are_unit_length_stable_and_sized(name: str) -> None:
    emb = get_embedder(name)
    assert isinstance(emb, Embedder)
    v1, v2, empty = emb.embed(["public bucket", "public bucket", ""])
    assert len(v1) == DIMENSIONS and v1 == v2
    assert math.isclose(math.sqrt(sum(x * x for x in v1)), 1.0, rel_tol=1e-9)
    assert math.isclose(math.sqrt(sum(x * x for x in empty)), 1.0)


def test_synonyms_lift_paraphrase_similarity() -> None:
    plain, syn = get_embedder("hashing"), get_embedder("hashing-syn")
    q, d, other = "stop idle dev instances", "shut down unused development VMs", "rotate access keys"
    pq, pd, _po = plain.embed([q, d, other])
    sq, sd, so = syn.embed([q, d, other])
    assert _cos(sq, sd) > _cos(pq, pd) + 0.2
    assert _cos(sq, sd) > _cos(sq, so)


def test_unknown_embedder_is_a_clear_error() -> None:
    with pytest.raises(EmbedderError, match="use one of"):
        get_embedder("word2vec")
