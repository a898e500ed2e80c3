"""The retrieval benchmark's baseline: llama-index's stock `QdrantVectorStore` over qdrant-client
local mode, loaded with the same chunks, vectors and access lists as our index.

Hybrid search uses the same BM25 encoder as our stores (plugged into the vector store's sparse
encoder hooks) and llama-index's own relative-score fusion; the permission filter is the same as
ours (read ∋ any held principal, deny ∌ any), expressed as llama-index metadata filters. Timed per
query: query embedding + `vector_store.query`. The baseline *is* the third-party stack, so this is
the one module outside the store adapters that talks to qdrant-client (an import-linter ignore).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from policies.access.filters import AccessFilter
from retrieval.bm25 import Bm25Encoder, document_text
from retrieval.embedding.embedder import Embedder
from retrieval.records import ChunkRecord

__all__ = ["TOP_K", "baseline_latency", "percentiles"]

Matrix = npt.NDArray[np.float32]
TOP_K = 8


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "n": 0}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": at(0.5), "p95": at(0.95), "n": len(ordered)}


def baseline_latency(
    chunks: Sequence[ChunkRecord],
    vectors: Matrix,
    embedder: Embedder,
    accesses: Sequence[AccessFilter],
    queries: Sequence[str],
) -> dict[str, object]:
    """Load the chunks, then time `queries` (query i runs as `accesses[i % len]`)."""
    from llama_index.core.schema import BaseNode, MetadataMode, TextNode
    from llama_index.core.vector_stores.types import (
        FilterCondition,
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
        VectorStoreQuery,
        VectorStoreQueryMode,
    )
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient, models

    encoder = Bm25Encoder()

    def sparse(texts: list[str], *, query: bool) -> tuple[list[list[int]], list[list[float]]]:
        vectors = [encoder.embed_query(t) if query else encoder.embed_document(t) for t in texts]
        return [list(v.indices) for v in vectors], [list(v.values) for v in vectors]

    client = QdrantClient(location=":memory:")
    store = QdrantVectorStore(
        collection_name="bench",
        client=client,
        enable_hybrid=True,
        sparse_doc_fn=lambda texts: sparse(texts, query=False),
        sparse_query_fn=lambda texts: sparse(texts, query=True),
        sparse_config=models.SparseVectorParams(modifier=models.Modifier.IDF),
        batch_size=512,
    )
    keys = ["read", "deny", "document_id"]
    nodes = [
        TextNode(
            id_=c.chunk_id,
            text=document_text(title=c.title, heading_path=c.heading_path, text=c.text),
            embedding=vectors[i].tolist(),
            metadata={"read": list(c.read), "deny": list(c.deny), "document_id": c.document_id},
            excluded_embed_metadata_keys=keys,
            excluded_llm_metadata_keys=keys,
        )
        for i, c in enumerate(chunks)
    ]
    assert nodes[0].get_content(metadata_mode=MetadataMode.EMBED) == nodes[0].text
    t0 = time.perf_counter()
    store.add(list[BaseNode](nodes))
    load_s = time.perf_counter() - t0
    del nodes
    total: list[float] = []
    search: list[float] = []
    for i, query in enumerate(queries):
        holds = sorted(accesses[i % len(accesses)].holds)
        filters = MetadataFilters(
            filters=[
                MetadataFilter(key="read", value=holds, operator=FilterOperator.IN),
                MetadataFilters(
                    filters=[MetadataFilter(key="deny", value=holds, operator=FilterOperator.IN)],
                    condition=FilterCondition.NOT,
                ),
            ],
            condition=FilterCondition.AND,
        )
        t = time.perf_counter()
        vector = embedder.embed_query(query).tolist()
        t_search = time.perf_counter()
        store.query(
            VectorStoreQuery(
                query_embedding=vector,
                query_str=query,
                similarity_top_k=100,
                sparse_top_k=100,
                hybrid_top_k=TOP_K,
                mode=VectorStoreQueryMode.HYBRID,
                filters=filters,
            )
        )
        done = time.perf_counter()
        total.append((done - t) * 1000)
        search.append((done - t_search) * 1000)
    client.close()
    return {
        "load_s": round(load_s, 1),
        "total_ms": percentiles(total),
        "search_ms": percentiles(search),
    }
