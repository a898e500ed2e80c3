"""Shared fixtures. The embedding model is real and loaded once per test session."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator

import pytest

from retrieval.embedder import Embedder, load_embedder
from tests.kb_index import KbIndex, build_kb_index


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder()


@pytest.fixture(scope="session")
def kb_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[KbIndex]:
    """The bundled sample knowledge base, ingested once with the real pipeline (shared)."""
    index = build_kb_index(tmp_path_factory.mktemp("kb-index"), embedder)
    yield index
    index.close()
