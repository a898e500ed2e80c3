"""Reciprocal rank fusion of the dense and BM25 channels, in Python, identically on every backend.

Qdrant fuses prefetches server-side, but a fused query returns only the fused score, so the
stores used to run each channel a second time for its own score (cosine, BM25), which the
evidence selection and `proofdesk search` show. Four searches where two suffice: at 100,000
chunks the fused query alone cost as much as both channels together. The stores now run the
two channel searches in one batch and fuse their rankings here.

The formula is Qdrant's (`rrf_scoring` with weight 1): a point at 0-based position `p` of a
channel's ranking scores `1 / (p + k)`, summed over the channels it appears in. Qdrant leaves
ties in arbitrary order; here a tie goes to the point with the better best position, then to
the earlier channel (dense before BM25). No two points share a position in one channel, and
each channel's own ties are put in point-id order before fusion (`qdrant_common._ranked`), so
that order is total: every backend and every run orders a result the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from retrieval.records import ScoredChunk
from retrieval.schema import RRF_K, scored_chunk

__all__ = ["FusedHit", "fused_chunks", "reciprocal_rank_fusion"]


@dataclass(frozen=True)
class FusedHit:
    point_id: str
    score: float


def reciprocal_rank_fusion(
    rankings: Sequence[Iterable[str]], *, limit: int, k: int = RRF_K
) -> list[FusedHit]:
    """The top `limit` ids of the channels' rankings (best first, no duplicates within one
    ranking; a channel's {id: score} mapping in rank order is one), fused by reciprocal rank."""
    if k < 1:
        raise ValueError(f"the fusion constant k must be at least 1, got {k}")
    scores: dict[str, float] = {}
    first_seen: dict[str, tuple[int, int]] = {}  # id → (best position, channel of that position)
    for channel, ranking in enumerate(rankings):
        for position, point_id in enumerate(ranking):
            scores[point_id] = scores.get(point_id, 0.0) + 1.0 / (position + k)
            seen = first_seen.get(point_id)
            if seen is None or position < seen[0]:
                first_seen[point_id] = (position, channel)
    ordered = sorted(scores, key=lambda pid: (-scores[pid], *first_seen[pid]))
    return [FusedHit(pid, scores[pid]) for pid in ordered[: max(limit, 0)]]


def fused_chunks(
    fused: Sequence[FusedHit],
    channel_scores: Sequence[Mapping[str, float]],
    payloads: Mapping[str, Mapping[str, object] | None],
) -> list[ScoredChunk]:
    """The hybrid hits, in fused order, each with its fused score and the dense (first) and
    BM25 (second, if searched) channels' own scores. A fused id whose payload was not read back
    (the point was deleted between the search and the read) is left out, never returned empty."""
    dense = channel_scores[0] if channel_scores else {}
    sparse = channel_scores[1] if len(channel_scores) > 1 else {}
    return [
        scored_chunk(payloads[hit.point_id], hit.score, mode="hybrid", dense=dense, sparse=sparse)
        for hit in fused
        if hit.point_id in payloads
    ]
