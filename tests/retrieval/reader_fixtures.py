"""Reading models for tests: the bundled one (when present) and tiny CrossEncoder directories
made offline from the bundled all-MiniLM-L6-v2 weights (one layer, a fixed verdict)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.embedding.embedder import bundled_model_path
from retrieval.reading import BUNDLED_READER_PATH, MODEL_FILE

__all__ = ["needs_bundled_reader", "tiny_cross_encoder"]

needs_bundled_reader = pytest.mark.skipif(
    not (BUNDLED_READER_PATH / MODEL_FILE).is_file(),
    reason="the trained reader (retrieval/reader_model/reader-int8.onnx) is not in this checkout",
)

_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def tiny_cross_encoder(target: Path, *, logit: float) -> Path:
    """A one-layer CrossEncoder directory whose every pair scores `logit` (a zero-weight head
    with that bias): a reader with a known verdict, made without any download."""
    import torch
    from transformers import AutoModelForSequenceClassification

    base = bundled_model_path()
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=1, num_hidden_layers=1, local_files_only=True
    )
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(logit)
    model.save_pretrained(target)
    for name in _TOKENIZER_FILES:
        if (base / name).is_file():
            shutil.copyfile(base / name, target / name)
    return target
