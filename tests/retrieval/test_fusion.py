"""Reciprocal rank fusion: Qdrant's formula, deterministic ties, and agreement with Qdrant Edge's
own server-side RRF on a real shard."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_edge import Fusion, Prefetch, Query, QueryRequest

from policies.access.filters import AccessFilter
from retrieval.edge_store import EdgeStore, _sparse
from retrieval.fusion import FusedHit, fused_chunks, reciprocal_rank_fusion
from retrieval.schema import DENSE_VECTOR, RRF_K, SPARSE_VECTOR, chunk_to_payload
from retrieval.store_factory import open_store
from tests.fixtures.store_corpus import DIM, PRINCIPALS, Corpus, corpus, store_settings

__all__ = ["corpus"]  # a fixture, used by name


def test_a_point_in_both_rankings_sums_its_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], limit=10, k=60)
    assert [h.point_id for h in fused] == ["a", "c", "b"]
    assert fused[0].score == pytest.approx(1 / 60 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 62 + 1 / 60)
    assert fused[2].score == pytest.approx(1 / 61)


def test_equal_sums_go_to_the_better_position_then_the_earlier_channel() -> None:
    # Each is first in one channel and second in the other: dense (channel 0) wins the tie.
    assert [h.point_id for h in reciprocal_rank_fusion([["b", "a"], ["a", "b"]], limit=5)] == [
        "b",
        "a",
    ]
    assert [h.point_id for h in reciprocal_rank_fusion([["x"], ["y"]], limit=5)] == ["x", "y"]
    # Not a tie: second twice (2/61) beats first and fourth (1/60 + 1/63).
    fused = reciprocal_rank_fusion([["early", "late"], ["o1", "late", "o2", "early"]], limit=5)
    assert [h.point_id for h in fused][:2] == ["late", "early"]


def test_limit_and_empty_inputs() -> None:
    assert reciprocal_rank_fusion([["a", "b", "c"]], limit=2) == [
        FusedHit("a", 1 / RRF_K),
        FusedHit("b", 1 / (RRF_K + 1)),
    ]
    assert reciprocal_rank_fusion([[], []], limit=5) == []
    assert reciprocal_rank_fusion([["a"]], limit=0) == []
    with pytest.raises(ValueError, match="at least 1"):
        reciprocal_rank_fusion([["a"]], limit=1, k=0)


@pytest.fixture
def edge(corpus: Corpus, tmp_path: Path) -> Iterator[EdgeStore]:
    store = open_store(store_settings("edge", tmp_path / "index"), dimension=DIM)
    assert isinstance(store, EdgeStore)
    store.upsert(corpus.chunks, corpus.vectors)
    yield store
    store.close()


@pytest.mark.parametrize("query", ["reset the VPN password", "badge deactivated by security"])
def test_the_store_fuses_exactly_as_qdrant_edge_does_server_side(
    edge: EdgeStore, corpus: Corpus, query: str
) -> None:
    """Qdrant's own RRF over the same two channels gives the same scores; ids may differ only
    in the order of equal scores, which Qdrant leaves arbitrary. The reader may read every
    chunk, so the engine's unfiltered query sees the same points and the same BM25 IDF."""
    reader = AccessFilter(holds=frozenset(PRINCIPALS) - {"group:contractors", "user:mallory"})
    everything = len(corpus.chunks)
    ours = edge.search(
        query_text=query, query_vector=corpus.query(query), access=reader, limit=everything
    )
    assert len(ours) == everything
    channels = [
        Query.Nearest(corpus.query(query), using=DENSE_VECTOR),
        Query.Nearest(_sparse(edge._encoder.embed_query(query)), using=SPARSE_VECTOR),
    ]
    native = edge._live.query(  # the engine itself, below the store's API
        QueryRequest(
            limit=everything,
            prefetches=[Prefetch(limit=100, query=q) for q in channels],
            query=Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]
            with_payload=False,
        )
    )
    native_scores = {str(p.id): p.score for p in native}
    assert set(native_scores) == {h.chunk.chunk_id for h in ours}
    for hit in ours:
        assert hit.score == pytest.approx(native_scores[hit.chunk.chunk_id], rel=1e-5)
    # Same order wherever the scores differ.
    for earlier, later in itertools.pairwise(ours):
        assert native_scores[earlier.chunk.chunk_id] >= native_scores[later.chunk.chunk_id] - 1e-6


def test_fused_chunks_carry_each_channels_score_and_leave_out_a_point_not_read_back(
    corpus: Corpus,
) -> None:
    a, b, c = corpus.chunks[:3]
    channel_scores = [{a.chunk_id: 0.9, b.chunk_id: 0.8}, {b.chunk_id: 7.5, c.chunk_id: 3.0}]
    fused = reciprocal_rank_fusion(channel_scores, limit=3)
    # c was deleted between the search and the read: its payload is missing
    payloads = {x.chunk_id: chunk_to_payload(x) for x in (a, b)}
    hits = fused_chunks(fused, channel_scores, payloads)
    assert [h.chunk for h in hits] == [b, a]
    assert hits[0].channel_scores == {"fused": fused[0].score, "dense": 0.8, "sparse": 7.5}
    assert hits[1].channel_scores == {"fused": fused[1].score, "dense": 0.9}
