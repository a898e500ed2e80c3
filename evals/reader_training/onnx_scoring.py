"""Scorers for the training reports: the exported reader through the product's adapter, and
the embedding model's cosine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["cosine_scorer", "onnx_scorer"]

Scorer = Callable[[str, Sequence[str]], Sequence[float]]


def onnx_scorer(model_dir: Path, *, max_length: int) -> Scorer:
    """The exported reader as the product reads it (`retrieval.reading.OnnxReader`: checked
    against its pinned hash, each pair run alone), cutting pairs at `max_length` tokens."""
    from retrieval.reading import OnnxReader

    reader = OnnxReader(model_dir, threads=1)

    def score(question: str, texts: Sequence[str]) -> Sequence[float]:
        return [float(p) for p in reader.score(question, texts, max_tokens=max_length)]

    return score


def cosine_scorer() -> Scorer:
    from sentence_transformers import SentenceTransformer

    from retrieval.embedding.embedder import bundled_model_path

    model = SentenceTransformer(str(bundled_model_path()), device="cpu")

    def score(question: str, texts: Sequence[str]) -> Sequence[float]:
        vectors = model.encode([question, *texts], normalize_embeddings=True)
        return [float(x) for x in vectors[1:] @ vectors[0]]

    return score
