"""BM25 sparse vectors from Qdrant Edge's built-in encoder, shared by every store backend.

Both adapters (Edge and server) encode with this one module, so the sparse vectors a chunk gets
do not depend on where it is stored. The encoder is pure term frequency with BM25 saturation
and length normalisation; the IDF part is applied by the engine at query time (the `bm25`
sparse vector is declared with the IDF modifier).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qdrant_edge import Bm25, Bm25Config

__all__ = ["Bm25Encoder", "SparseEmbedding", "document_text"]


@dataclass(frozen=True)
class SparseEmbedding:
    """A backend-neutral sparse vector: hashed term ids and their weights."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            raise ValueError("sparse vector indices and values differ in length")


def document_text(*, title: str, heading_path: Sequence[str], text: str) -> str:
    """The text a chunk is BM25-encoded from: title and headings make section words findable."""
    return "\n".join(part for part in (title, " / ".join(heading_path), text) if part)


class Bm25Encoder:
    """English BM25 (stemming, stopwords, lowercase) from `qdrant_edge.Bm25`; runs offline."""

    def __init__(self, *, language: str = "english") -> None:
        self._language = language
        self._model = Bm25(Bm25Config(language=language))

    @property
    def language(self) -> str:
        return self._language

    def embed_document(self, text: str) -> SparseEmbedding:
        """Term-frequency weights for an indexed text."""
        vector = self._model.embed_document(text)
        return SparseEmbedding(tuple(vector.indices), tuple(vector.values))

    def embed_query(self, text: str) -> SparseEmbedding:
        """Weight 1.0 per distinct query term (the engine multiplies in the IDF)."""
        vector = self._model.embed_query(text)
        return SparseEmbedding(tuple(vector.indices), tuple(vector.values))
