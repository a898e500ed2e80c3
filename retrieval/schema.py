"""The collection schema both store adapters share: names, payload layout, indexes, filters.

Everything about *what* is stored and *which* points a search may touch lives here, in plain
Python; the adapters only translate it into their client's types. In particular the access
filter is compiled once, into a backend-neutral `FilterPlan`, so Edge and server cannot drift
apart on who may read what.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from policies.access.filters import AccessFilter
from retrieval.records import ChunkRecord, ScoredChunk, SearchFilters
from retrieval.store import SearchMode, StoreError

__all__ = [
    "DEFAULT_FULL_SCAN_THRESHOLD_KB",
    "DENSE_VECTOR",
    "F_CHUNK_ID",
    "F_DENY",
    "F_DOCUMENT_ID",
    "F_DOCUMENT_VERSION",
    "F_DOC_TYPE",
    "F_INDEXED_AT",
    "F_INDEXED_TS",
    "F_MODIFIED_AT",
    "F_MODIFIED_TS",
    "F_READ",
    "F_SCHEMA_VERSION",
    "F_SOURCE_ID",
    "PAYLOAD_INDEXES",
    "RRF_K",
    "SCHEMA_VERSION",
    "SPARSE_VECTOR",
    "AnyOf",
    "Condition",
    "FilterPlan",
    "IdfScope",
    "IndexKind",
    "Payload",
    "PayloadMemory",
    "ValueRange",
    "chunk_to_payload",
    "compile_search_filter",
    "dense_rows",
    "document_filter",
    "payload_to_chunk",
    "point_ids",
    "query_row",
    "scope_filter",
    "scored_chunk",
    "timestamp",
    "validate_point_id",
]

DENSE_VECTOR: Final = "dense"
SPARSE_VECTOR: Final = "bm25"
SCHEMA_VERSION: Final = 1
RRF_K: Final = 60  # reciprocal rank fusion constant, the same on every backend

Payload = dict[str, object]
IndexKind = Literal["keyword", "float"]
# Which points BM25's IDF is computed over. "visible": those the search may return (so hidden
# chunks cannot shift scores or order, a side channel on their content); "collection": all.
IdfScope = Literal["visible", "collection"]
PayloadMemory = Literal["cached", "cold"]

# Filtered searches admitting fewer vectors than this (KB of vectors; 40,000 KB is about 26,000
# chunks of 384 dims) scan the admitted points exactly instead of walking the HNSW graph, whose
# filtered recall was measured at 0.22-0.39 on the 100k-chunk benchmark (see EdgeStore).
DEFAULT_FULL_SCAN_THRESHOLD_KB = 40_000

# Payload fields. Datetimes are stored twice: ISO text (exact round trip) and a float POSIX
# timestamp (`*_ts`) that range filters and the float index work on.
F_CHUNK_ID: Final = "chunk_id"
F_DOCUMENT_ID: Final = "document_id"
F_SOURCE_ID: Final = "source_id"
F_DOCUMENT_VERSION: Final = "document_version"
F_DOC_TYPE: Final = "doc_type"
F_READ: Final = "read"
F_DENY: Final = "deny"
F_MODIFIED_AT: Final = "modified_at"
F_MODIFIED_TS: Final = "modified_ts"
F_INDEXED_AT: Final = "indexed_at"
F_INDEXED_TS: Final = "indexed_ts"
F_SCHEMA_VERSION: Final = "schema_version"

PAYLOAD_INDEXES: Final[Mapping[str, IndexKind]] = {
    F_READ: "keyword",
    F_DENY: "keyword",
    F_SOURCE_ID: "keyword",
    F_DOCUMENT_ID: "keyword",
    F_DOCUMENT_VERSION: "keyword",
    F_DOC_TYPE: "keyword",
    F_MODIFIED_TS: "float",
}


# --- payload <-> ChunkRecord -------------------------------------------------------------------


def timestamp(moment: datetime) -> float:
    """POSIX seconds; a naive datetime is taken as UTC (the same rule for stored and queried)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def validate_point_id(chunk_id: str) -> str:
    """Qdrant point ids must be UUIDs (or integers); chunk ids from `chunk_id_for` are UUIDs."""
    try:
        canonical = str(uuid.UUID(chunk_id))
    except ValueError:
        canonical = ""
    if canonical != chunk_id:
        # Non-canonical spellings would come back from the store as a different string.
        raise ValueError(f"chunk id {chunk_id!r} is not a canonical UUID (use chunk_id_for)")
    return chunk_id


def point_ids(chunk_ids: Sequence[str]) -> list[str]:
    """The ids that can name a point, deduplicated in order; others cannot be in the index."""
    valid: list[str] = []
    for chunk_id in dict.fromkeys(chunk_ids):
        try:
            valid.append(validate_point_id(chunk_id))
        except ValueError:
            continue
    return valid


def chunk_to_payload(chunk: ChunkRecord) -> Payload:
    """Every ChunkRecord field, JSON-shaped, plus the numeric timestamps used by range filters."""
    payload: Payload = {
        F_SCHEMA_VERSION: SCHEMA_VERSION,
        F_CHUNK_ID: chunk.chunk_id,
        F_DOCUMENT_ID: chunk.document_id,
        F_SOURCE_ID: chunk.source_id,
        "title": chunk.title,
        "heading_path": list(chunk.heading_path),
        "uri": chunk.uri,
        "start": chunk.start,
        "end": chunk.end,
        "text": chunk.text,
        "content_hash": chunk.content_hash,
        F_DOCUMENT_VERSION: chunk.document_version,
        F_READ: list(chunk.read),
        F_DENY: list(chunk.deny),
        F_DOC_TYPE: chunk.doc_type,
        "ordinal": chunk.ordinal,
        "pii_found": chunk.pii_found,
        "injection_suspected": chunk.injection_suspected,
        F_MODIFIED_AT: chunk.modified_at.isoformat() if chunk.modified_at else None,
        F_INDEXED_AT: chunk.indexed_at.isoformat() if chunk.indexed_at else None,
    }
    if chunk.modified_at is not None:
        payload[F_MODIFIED_TS] = timestamp(chunk.modified_at)
    if chunk.indexed_at is not None:
        payload[F_INDEXED_TS] = timestamp(chunk.indexed_at)
    return payload


def _str(payload: Mapping[str, object], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise StoreError(f"payload field {key!r} is not a string: {value!r}")
    return value


def _int(payload: Mapping[str, object], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise StoreError(f"payload field {key!r} is not an integer: {value!r}")
    return int(value)


def _bool(payload: Mapping[str, object], key: str) -> bool:
    value = payload.get(key, False)
    if not isinstance(value, bool):
        raise StoreError(f"payload field {key!r} is not a boolean: {value!r}")
    return value


def _strs(payload: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = payload.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StoreError(f"payload field {key!r} is not a list of strings: {value!r}")
    return tuple(value)


def _datetime(payload: Mapping[str, object], key: str) -> datetime | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise StoreError(f"payload field {key!r} is not an ISO datetime: {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise StoreError(f"payload field {key!r} is not an ISO datetime: {value!r}") from None


def payload_to_chunk(payload: Mapping[str, object]) -> ChunkRecord:
    """Rebuild the ChunkRecord a point was written from; StoreError if the payload is not ours."""
    return ChunkRecord(
        chunk_id=_str(payload, F_CHUNK_ID),
        document_id=_str(payload, F_DOCUMENT_ID),
        source_id=_str(payload, F_SOURCE_ID),
        title=_str(payload, "title"),
        heading_path=_strs(payload, "heading_path"),
        uri=_str(payload, "uri"),
        start=_int(payload, "start"),
        end=_int(payload, "end"),
        text=_str(payload, "text"),
        content_hash=_str(payload, "content_hash"),
        document_version=_str(payload, F_DOCUMENT_VERSION),
        read=_strs(payload, F_READ),
        deny=_strs(payload, F_DENY),
        doc_type=_str(payload, F_DOC_TYPE),
        ordinal=_int(payload, "ordinal"),
        pii_found=_bool(payload, "pii_found"),
        injection_suspected=_bool(payload, "injection_suspected"),
        modified_at=_datetime(payload, F_MODIFIED_AT),
        indexed_at=_datetime(payload, F_INDEXED_AT),
    )


# --- filters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnyOf:
    """The field (a keyword or a list of keywords) holds at least one of `values` (non-empty)."""

    field: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.values:
            # An empty MatchAny matches nothing in Qdrant, but we never rely on that: callers
            # must decide "nothing" explicitly (see compile_search_filter).
            raise ValueError(f"AnyOf({self.field!r}) needs at least one value")


@dataclass(frozen=True)
class ValueRange:
    """A numeric field within [gte, lt); a point without the field does not match."""

    field: str
    gte: float | None = None
    lt: float | None = None


Condition = AnyOf | ValueRange


@dataclass(frozen=True)
class FilterPlan:
    """All of `must`, none of `must_not`. Empty on both sides means every point."""

    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.must and not self.must_not


def _any_of(field: str, values: frozenset[str]) -> AnyOf:
    return AnyOf(field, tuple(sorted(values)))


def compile_search_filter(
    access: AccessFilter, filters: SearchFilters | None = None
) -> FilterPlan | None:
    """The access filter plus the search filters, as one plan; None when nothing can match.

    Fail closed: empty `holds`, an empty `allowed_sources`, or an empty set in `filters`
    (no source, doc type or document admitted) yields None, and the caller must return no
    results without querying. Dates: `modified_after` is inclusive, `modified_before`
    exclusive, naive datetimes are UTC, and a chunk without `modified_at` never matches a date
    bound. Deny and denied sources always win over read and allowed sources.
    """
    if not access.holds:
        return None
    holds = _any_of(F_READ, access.holds)
    must: list[Condition] = [holds]
    must_not: list[Condition] = [AnyOf(F_DENY, holds.values)]
    if access.denied_sources:
        must_not.append(_any_of(F_SOURCE_ID, access.denied_sources))
    if access.allowed_sources is not None:
        if not access.allowed_sources:
            return None
        must.append(_any_of(F_SOURCE_ID, access.allowed_sources))
    if filters is not None:
        for field, values in (
            (F_SOURCE_ID, filters.source_ids),
            (F_DOC_TYPE, filters.doc_types),
            (F_DOCUMENT_ID, filters.document_ids),
        ):
            if values is None:
                continue
            if not values:
                return None
            must.append(_any_of(field, values))
        after, before = filters.modified_after, filters.modified_before
        if after is not None or before is not None:
            must.append(
                ValueRange(
                    F_MODIFIED_TS,
                    gte=timestamp(after) if after is not None else None,
                    lt=timestamp(before) if before is not None else None,
                )
            )
    return FilterPlan(must=tuple(must), must_not=tuple(must_not))


def document_filter(document_id: str, *, keep_version: str | None = None) -> FilterPlan:
    """Every chunk of one document, or with `keep_version` those of its other versions."""
    must_not: tuple[Condition, ...] = ()
    if keep_version is not None:
        must_not = (AnyOf(F_DOCUMENT_VERSION, (keep_version,)),)
    return FilterPlan(must=(AnyOf(F_DOCUMENT_ID, (document_id,)),), must_not=must_not)


def scope_filter(*, source_id: str | None = None, document_id: str | None = None) -> FilterPlan:
    """Points of one source and/or one document (every point when both are None)."""
    must: list[Condition] = []
    if source_id is not None:
        must.append(AnyOf(F_SOURCE_ID, (source_id,)))
    if document_id is not None:
        must.append(AnyOf(F_DOCUMENT_ID, (document_id,)))
    return FilterPlan(must=tuple(must))


# --- argument checks and results shared by the adapters ----------------------------------------


def dense_rows(
    chunks: Sequence[ChunkRecord], dense: Sequence[Sequence[float]], *, dimension: int
) -> list[list[float]]:
    """The dense vectors as plain float lists, after checking they fit the chunks and schema."""
    if len(chunks) != len(dense):
        raise ValueError(f"{len(chunks)} chunks but {len(dense)} dense vectors")
    rows = [[float(x) for x in row] for row in dense]
    for chunk, row in zip(chunks, rows, strict=True):
        if len(row) != dimension:
            raise ValueError(
                f"chunk {chunk.chunk_id}: dense vector has {len(row)} dimensions, "
                f"the index expects {dimension}"
            )
    return rows


def query_row(
    mode: str, query_vector: Sequence[float] | None, *, dimension: int
) -> list[float] | None:
    """The dense query vector a mode needs (None for sparse); ValueError when it is missing."""
    if mode not in ("dense", "sparse", "hybrid"):
        raise ValueError(f"unknown search mode {mode!r}")
    if mode == "sparse":
        return None
    if query_vector is None:
        raise ValueError(f"search mode {mode!r} needs a query_vector")
    row = [float(x) for x in query_vector]
    if len(row) != dimension:
        raise ValueError(f"query vector has {len(row)} dimensions, the index expects {dimension}")
    return row


def scored_chunk(
    payload: Mapping[str, object] | None,
    score: float,
    *,
    mode: SearchMode,
    dense: Mapping[str, float] | None = None,
    sparse: Mapping[str, float] | None = None,
) -> ScoredChunk:
    """A search hit. Hybrid hits carry the fused score and, where the point was in a channel's
    top `prefetch_limit`, that channel's own score (cosine similarity, BM25 score)."""
    if payload is None:
        raise StoreError("the store returned a point without its payload")
    chunk = payload_to_chunk(payload)
    channels: dict[Literal["dense", "sparse", "fused"], float] = {}
    if mode == "dense":
        channels["dense"] = score
    elif mode == "sparse":
        channels["sparse"] = score
    else:
        channels["fused"] = score
        if dense is not None and chunk.chunk_id in dense:
            channels["dense"] = dense[chunk.chunk_id]
        if sparse is not None and chunk.chunk_id in sparse:
            channels["sparse"] = sparse[chunk.chunk_id]
    return ScoredChunk(chunk=chunk, score=score, channel_scores=channels)
