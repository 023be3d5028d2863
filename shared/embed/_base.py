"""The embedder interface and the name -> embedder registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from escher.errors import EscherError

__all__ = ["DEFAULT_EMBEDDER", "DIMENSIONS", "Embedder", "EmbedderError", "get_embedder", "known_embedders"]

# One width for every embedder: MiniLM's. The hashing embedder folds its features into as many buckets.
DIMENSIONS = 384
# Chosen from the paraphrase benchmark (bench/bench_store.py, README "Store and state"): the hashing embedder
# with synonym expansion, fused with full text, is within reach of MiniLM at 0.1% of its install size.
DEFAULT_EMBEDDER = "hashing-syn"


class EmbedderError(EscherError):
    """An embedder is unknown or cannot run here."""


@runtime_checkable
class Embedder(Protocol):
    name: str
    dimensions: int
    expands_synonyms: bool

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector of ``dimensions`` floats per text."""


def _hashing() -> Embedder:
    from escher.embed._hashing import HashingEmbedder

    return HashingEmbedder()


def _hashing_syn() -> Embedder:
    from escher.embed._hashing import HashingEmbedder

    return HashingEmbedder(synonyms=True)


def _minilm() -> Embedder:
    from escher.embed._minilm import MiniLMEmbedder

    return MiniLMEmbedder()


_FACTORIES: dict[str, Callable[[], Embedder]] = {
    "hashing": _hashing,
    "hashing-syn": _hashing_syn,
    "minilm": _minilm,
}


def known_embedders() -> list[str]:
    return list(_FACTORIES)


def get_embedder(name: str | None = None) -> Embedder:
    name = name or DEFAULT_EMBEDDER
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise EmbedderError(
            f"unknown embedder {name!r}", hint=f"use one of: {', '.join(_FACTORIES)}"
        ) from None
    return factory()
