"""Scorers for the training reports: the exported reader on ONNX Runtime, and the embedding
model's cosine. (The product reads through `retrieval`'s reader port; these only report.)"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["cosine_scorer", "onnx_scorer"]

Scorer = Callable[[str, Sequence[str]], Sequence[float]]


def onnx_scorer(model_dir: Path, *, max_length: int) -> Scorer:
    import onnxruntime as ort
    from transformers import AutoTokenizer

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        str(model_dir / "reader-int8.onnx"), options, providers=["CPUExecutionProvider"]
    )
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    def score(question: str, texts: Sequence[str]) -> Sequence[float]:
        encoded = tokenizer(
            [question] * len(texts),
            list(texts),
            truncation="longest_first",
            max_length=max_length,
            padding=True,
            return_tensors="np",
        )
        feeds = {
            k: encoded[k].astype(np.int64)
            for k in ("input_ids", "attention_mask", "token_type_ids")
        }
        logits = session.run(["logit"], feeds)[0]
        return [float(x) for x in 1.0 / (1.0 + np.exp(-logits))]

    return score


def cosine_scorer() -> Scorer:
    from sentence_transformers import SentenceTransformer

    from retrieval.embedding.embedder import bundled_model_path

    model = SentenceTransformer(str(bundled_model_path()), device="cpu")

    def score(question: str, texts: Sequence[str]) -> Sequence[float]:
        vectors = model.encode([question, *texts], normalize_embeddings=True)
        return [float(x) for x in vectors[1:] @ vectors[0]]

    return score
