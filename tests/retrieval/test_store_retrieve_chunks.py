"""`VectorStore.retrieve_chunks` on both backends: records by id, in the order asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.embedding.embedder import SentenceTransformerEmbedder
from retrieval.records import ChunkRecord
from retrieval.store import VectorStore
from retrieval.store_factory import open_store
from tests.fixtures.store_corpus import DIM, make_chunks, store_settings


@pytest.fixture(scope="module")
def chunks() -> list[ChunkRecord]:
    return make_chunks()[:6]


@pytest.fixture(params=["edge", "server"])
def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    chunks: list[ChunkRecord],
    embedder: SentenceTransformerEmbedder,
) -> Iterator[VectorStore]:
    opened = open_store(store_settings(str(request.param), tmp_path / "index"), dimension=DIM)
    opened.upsert(chunks, embedder.embed_documents([c.text for c in chunks]).tolist())
    yield opened
    opened.close()


def test_returns_the_stored_records_in_the_order_asked(
    store: VectorStore, chunks: list[ChunkRecord]
) -> None:
    wanted = [chunks[4].chunk_id, chunks[0].chunk_id, chunks[2].chunk_id]
    assert store.retrieve_chunks(wanted) == [chunks[4], chunks[0], chunks[2]]


def test_missing_malformed_and_repeated_ids_are_left_out(
    store: VectorStore, chunks: list[ChunkRecord]
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    got = store.retrieve_chunks([unknown, chunks[1].chunk_id, "not-a-uuid", chunks[1].chunk_id])
    assert got == [chunks[1]]
    assert store.retrieve_chunks([]) == []


def test_a_deleted_document_is_no_longer_retrieved(
    store: VectorStore, chunks: list[ChunkRecord]
) -> None:
    doc = chunks[0].document_id
    store.delete_document(doc)
    ids = [c.chunk_id for c in chunks]
    assert [c.chunk_id for c in store.retrieve_chunks(ids)] == [
        c.chunk_id for c in chunks if c.document_id != doc
    ]


def test_iter_chunks_pages_through_every_chunk_once(
    tmp_path: Path, chunks: list[ChunkRecord], embedder: SentenceTransformerEmbedder
) -> None:
    for backend in ("edge", "server"):
        opened = open_store(
            store_settings(backend, tmp_path / backend, scroll_page_size=4), dimension=DIM
        )
        try:
            assert list(opened.iter_chunks()) == []  # an empty index: no page
            opened.upsert(chunks, embedder.embed_documents([c.text for c in chunks]).tolist())
            pages = list(opened.iter_chunks())
            assert [len(p) for p in pages] == [4, 2], backend
            got = sorted((c for p in pages for c in p), key=lambda c: c.chunk_id)
            assert got == sorted(chunks, key=lambda c: c.chunk_id), backend
        finally:
            opened.close()
