"""A feature-hashing embedder: no model, no download, pure Python, a few microseconds per short text.

Features: stemmed words, word bigrams, and character trigrams inside words (so "instances" and "instance", or
"dev" and "development", share something); with ``synonyms=True`` also the concept tokens of
:mod:`escher.embed._synonyms`, weighted up because they carry the meaning that surface words do not share.
Each feature lands in one of ``dimensions`` buckets (CRC32, stable across processes) with a hashed sign.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Sequence

from escher.embed._base import DIMENSIONS
from escher.embed._synonyms import concepts, tokens

__all__ = ["HashingEmbedder"]

WORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5
TRIGRAM_WEIGHT = 0.25
CONCEPT_WEIGHT = 2.0


def _bucket(feature: str, dimensions: int) -> tuple[int, float]:
    h = zlib.crc32(feature.encode())
    return h % dimensions, (1.0 if (h >> 31) & 1 else -1.0)


class HashingEmbedder:
    """Signed feature hashing into ``dimensions`` buckets, L2-normalised."""

    def __init__(self, *, synonyms: bool = False, dimensions: int = DIMENSIONS) -> None:
        self.expands_synonyms = synonyms
        self.dimensions = dimensions
        self.name = "hashing-syn" if synonyms else "hashing"

    def features(self, text: str) -> dict[str, float]:
        words = tokens(text)
        feats: dict[str, float] = {}

        def add(feature: str, weight: float) -> None:
            feats[feature] = feats.get(feature, 0.0) + weight

        for word in words:
            add("w:" + word, WORD_WEIGHT)
            padded = f"^{word}$"
            for i in range(len(padded) - 2):
                add("c:" + padded[i : i + 3], TRIGRAM_WEIGHT)
        for left, right in itertools.pairwise(words):
            add(f"b:{left}_{right}", BIGRAM_WEIGHT)
        if self.expands_synonyms:
            for concept in concepts(text):
                add("k:" + concept, CONCEPT_WEIGHT)
        return feats

    def embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for feature, weight in self.features(text).items():
            index, sign = _bucket(feature, self.dimensions)
            vector[index] += sign * weight
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0.0:
            vector[0] = 1.0  # an empty text still gets a valid unit vector (it matches nothing in particular)
            return vector
        return [v / norm for v in vector]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_one(t) for t in texts]
