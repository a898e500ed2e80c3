"""The VectorStore contract, run against both backends: Qdrant Edge and qdrant-client local mode.

Dense vectors come from the real embedding model (20 helpdesk passages, embedded once per
module); BM25 is the real encoder. Every access assertion checks exact sets: with `limit`
above the corpus size a dense or hybrid search returns every point it may, so "what came back"
must equal "what AccessFilter.admits", no more and no less.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.access.filters import AccessFilter
from retrieval.records import ChunkRecord, ScoredChunk, SearchFilters, chunk_id_for
from retrieval.store import SearchMode, StoreError, VectorStore
from retrieval.store_factory import open_store
from tests.fixtures.store_corpus import (
    DIM,
    PRINCIPALS,
    SOURCES,
    Corpus,
    store_settings,
)

MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")


@pytest.fixture(scope="module", params=["edge", "server"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def loaded(
    backend: str, corpus: Corpus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VectorStore]:
    """The whole corpus, for read-only tests."""
    store = open_store(store_settings(backend, tmp_path_factory.mktemp(backend)), dimension=DIM)
    store.upsert(corpus.chunks, corpus.vectors)
    yield store
    store.close()


@pytest.fixture
def fresh(backend: str, tmp_path: Path) -> Iterator[VectorStore]:
    """An empty store, for tests that write; a small page size exercises pagination."""
    store = open_store(
        store_settings(backend, tmp_path / "index", scroll_page_size=3), dimension=DIM
    )
    yield store
    store.close()


def search(
    store: VectorStore,
    corpus: Corpus,
    text: str,
    access: AccessFilter,
    *,
    mode: SearchMode = "hybrid",
    limit: int = 10,
    filters: SearchFilters | None = None,
) -> list[ScoredChunk]:
    return store.search(
        query_text=text,
        query_vector=corpus.query(text) if mode != "sparse" else None,
        access=access,
        filters=filters,
        limit=limit,
        mode=mode,
    )


def ids(hits: list[ScoredChunk]) -> set[str]:
    return {h.chunk.chunk_id for h in hits}


def everyone(*extra: str) -> AccessFilter:
    return AccessFilter(holds=frozenset({"public", *extra}))


# --- round trip and ranking ----------------------------------------------------------------------


def test_roundtrip_returns_the_stored_record_unchanged(loaded: VectorStore, corpus: Corpus) -> None:
    access = AccessFilter(holds=frozenset(PRINCIPALS) - {"group:contractors", "user:mallory"})
    hits = search(loaded, corpus, "reset my VPN password", access, limit=50)
    by_id = {c.chunk_id: c for c in corpus.chunks}
    assert hits[0].chunk == by_id[hits[0].chunk.chunk_id]
    assert hits[0].chunk.text.startswith("To reset your VPN password")
    assert all(h.chunk == by_id[h.chunk.chunk_id] for h in hits)  # datetimes, tuples, flags
    assert ids(hits) == corpus.admitted(access)


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_ranks_the_obvious_passage_first(
    loaded: VectorStore, corpus: Corpus, mode: SearchMode
) -> None:
    hits = search(loaded, corpus, "guest wifi password reception", everyone(), mode=mode)
    assert hits[0].chunk.document_id == "d-wifi"
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    channel = "fused" if mode == "hybrid" else mode
    assert hits[0].channel_scores[channel] == hits[0].score


def test_hybrid_finds_a_rare_exact_term_that_dense_ranks_lower(
    loaded: VectorStore, corpus: Corpus
) -> None:
    query = "VPN error E-7731"
    rank: dict[str, int] = {}
    for mode in MODES:
        hits = search(loaded, corpus, query, everyone(), mode=mode)
        rank[mode] = next(i for i, h in enumerate(hits) if "E-7731" in h.chunk.text)
    assert rank["sparse"] == 0
    assert rank["dense"] > 0
    assert rank["hybrid"] < rank["dense"]


def test_hybrid_hits_carry_both_channel_scores(loaded: VectorStore, corpus: Corpus) -> None:
    hits = search(loaded, corpus, "badge deactivated", everyone(), limit=2)
    assert {h.chunk.document_id for h in hits} == {"d-badge"}
    for hit in hits:
        assert set(hit.channel_scores) == {"fused", "dense", "sparse"}
        assert -1.0 <= hit.channel_scores["dense"] <= 1.0
        assert hit.channel_scores["sparse"] > 0


@pytest.mark.parametrize(
    ("query", "who"),
    [("badge deactivated", everyone()), ("password", everyone("group:it", "group:staff"))],
)
def test_hybrid_ranks_by_reciprocal_rank_fusion_of_the_two_channels(
    loaded: VectorStore, corpus: Corpus, query: str, who: AccessFilter
) -> None:
    """The fused score of every hit is the sum of 1 / (position + 60) over the dense and BM25
    rankings the same store returns for the same query and reader, best first."""
    hybrid = search(loaded, corpus, query, who, limit=50)
    rankings = [
        [h.chunk.chunk_id for h in search(loaded, corpus, query, who, mode=m, limit=100)]
        for m in ("dense", "sparse")
    ]
    expected = {
        chunk_id: sum(1.0 / (r.index(chunk_id) + 60) for r in rankings if chunk_id in r)
        for chunk_id in set(rankings[0]) | set(rankings[1])
    }
    assert ids(hybrid) == set(expected)
    for hit in hybrid:
        assert hit.score == pytest.approx(expected[hit.chunk.chunk_id], rel=1e-6)
    scores = [h.score for h in hybrid]
    assert scores == sorted(scores, reverse=True)


def test_a_query_of_stopwords_has_no_sparse_hits_but_hybrid_still_answers(
    loaded: VectorStore, corpus: Corpus
) -> None:
    assert search(loaded, corpus, "the of and", everyone(), mode="sparse") == []
    assert search(loaded, corpus, "the of and", everyone(), mode="hybrid")


# --- access --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("access", "expected_docs"),
    [
        pytest.param(
            everyone(),
            {"d-vpn", "d-update", "d-badge", "d-wifi", "d-mfa", "d-rooms", "d-printer"},
            id="public-only",
        ),
        pytest.param(
            AccessFilter(holds=frozenset({"group:hr"})), {"d-leave", "d-reviews"}, id="read-group"
        ),
        pytest.param(
            AccessFilter(holds=frozenset({"group:security", "user:mallory"})),
            {"d-firewall"},
            id="deny-beats-read",
        ),
        pytest.param(
            AccessFilter(holds=frozenset({"public", "group:contractors", "group:staff"})),
            {"d-vpn", "d-update", "d-badge", "d-wifi", "d-rooms", "d-printer"}
            | {"d-onboard", "d-backup", "d-expense"},
            id="deny-group-hides-public-and-staff-docs",
        ),
        pytest.param(
            AccessFilter(
                holds=frozenset({"public", "group:hr", "group:it"}),
                denied_sources=frozenset({"hr", "kb"}),
            ),
            {"d-onboard", "d-mailbox", "d-firewall"},
            id="denied-sources",
        ),
        pytest.param(
            AccessFilter(
                holds=frozenset({"public", "group:hr", "group:it"}),
                allowed_sources=frozenset({"hr"}),
            ),
            {"d-leave", "d-reviews"},
            id="allowed-sources",
        ),
        pytest.param(
            AccessFilter(
                holds=frozenset({"public", "group:hr"}),
                allowed_sources=frozenset({"hr", "kb"}),
                denied_sources=frozenset({"hr"}),
            ),
            {"d-vpn", "d-update", "d-badge", "d-wifi", "d-mfa", "d-rooms", "d-printer"},
            id="denied-beats-allowed",
        ),
        pytest.param(AccessFilter(holds=frozenset()), set(), id="empty-holds"),
        pytest.param(
            AccessFilter(holds=frozenset({"public"}), allowed_sources=frozenset()),
            set(),
            id="empty-allowed-sources",
        ),
        pytest.param(AccessFilter(holds=frozenset({"group:nobody"})), set(), id="unknown-group"),
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_access_filter_returns_exactly_what_the_principal_may_read(
    loaded: VectorStore,
    corpus: Corpus,
    access: AccessFilter,
    expected_docs: set[str],
    mode: SearchMode,
) -> None:
    # A query that every passage shares a term with, so sparse sees them all too.
    text = "IT HR security kb policy"
    hits = search(loaded, corpus, text, access, mode=mode, limit=1000)
    assert all(
        access.admits(source_id=h.chunk.source_id, read=h.chunk.read, deny=h.chunk.deny)
        for h in hits
    )
    if mode == "sparse":
        assert {h.chunk.document_id for h in hits} <= expected_docs
    else:
        assert {h.chunk.document_id for h in hits} == expected_docs
        assert ids(hits) == corpus.admitted(access)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    holds=st.frozensets(st.sampled_from(PRINCIPALS)),
    denied=st.frozensets(st.sampled_from(SOURCES), max_size=3),
    allowed=st.none() | st.frozensets(st.sampled_from(SOURCES)),
    mode=st.sampled_from(MODES),
)
def test_search_agrees_with_access_filter_admits(
    loaded: VectorStore,
    corpus: Corpus,
    holds: frozenset[str],
    denied: frozenset[str],
    allowed: frozenset[str] | None,
    mode: SearchMode,
) -> None:
    access = AccessFilter(holds=holds, denied_sources=denied, allowed_sources=allowed)
    hits = search(loaded, corpus, "password laptop badge", access, mode=mode, limit=1000)
    admitted = corpus.admitted(access)
    assert ids(hits) <= admitted
    if mode != "sparse":
        assert ids(hits) == admitted


def test_hidden_chunks_never_move_the_bm25_scores_of_visible_ones(
    backend: str, corpus: Corpus, tmp_path: Path
) -> None:
    """With collection-wide IDF, adding chunks the caller cannot read changes its scores: a
    side channel on hidden content. The default computes IDF over what the caller may see."""
    query = "badge reader card deactivated"
    badge = [c for c in corpus.chunks if "badge" in c.text.lower()]
    hidden = [
        replace(c, chunk_id=chunk_id_for("d-secret", n, "x"), document_id="d-secret",
                source_id="hr", read=("group:secret",))
        for n, c in enumerate(badge * 3)
    ]  # fmt: skip

    def scores(store: VectorStore) -> list[tuple[str, float]]:
        hits = search(store, corpus, query, everyone(), mode="sparse", limit=100)
        return [(h.chunk.chunk_id, h.score) for h in hits]

    moved = {}
    for scope in ("visible", "collection"):
        path = tmp_path / scope
        with contextlib.closing(
            open_store(store_settings(backend, path, bm25_idf=scope), dimension=DIM)
        ) as store:
            store.upsert(corpus.chunks, corpus.vectors)
            before = scores(store)
            store.upsert(hidden, corpus.vectors[: len(hidden)])
            after = scores(store)
            if scope == "visible":
                assert [cid for cid, _ in after] == [cid for cid, _ in before]
            moved[scope] = any(
                a != pytest.approx(b, rel=1e-6)
                for (_, a), (_, b) in zip(after, before, strict=True)
            )
    assert moved == {"visible": False, "collection": True}


# --- search filters ------------------------------------------------------------------------------

ALL = AccessFilter(holds=frozenset(PRINCIPALS) - {"group:contractors", "user:mallory"})
JAN, JUN = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)


def modified(chunk: ChunkRecord) -> datetime:
    assert chunk.modified_at is not None
    moment = chunk.modified_at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        (SearchFilters(source_ids=frozenset({"it", "hr"})), lambda c: c.source_id in {"it", "hr"}),
        (SearchFilters(doc_types=frozenset({"pdf"})), lambda c: c.doc_type == "pdf"),
        (SearchFilters(document_ids=frozenset({"d-vpn"})), lambda c: c.document_id == "d-vpn"),
        (SearchFilters(modified_after=JUN), lambda c: modified(c) >= JUN),
        (
            SearchFilters(modified_after=JAN, modified_before=JUN, doc_types=frozenset({"md"})),
            lambda c: JAN <= modified(c) < JUN and c.doc_type == "md",
        ),
        (SearchFilters(source_ids=frozenset()), lambda c: False),
    ],
    ids=["sources", "doc-types", "documents", "after-inclusive", "range-and-type", "empty-set"],
)  # fmt: skip
def test_search_filters_narrow_inside_the_access_filter(
    loaded: VectorStore,
    corpus: Corpus,
    filters: SearchFilters,
    keep: Callable[[ChunkRecord], bool],
) -> None:
    expected = {c.chunk_id for c in corpus.chunks if keep(c)} & corpus.admitted(ALL)
    hits = search(loaded, corpus, "office policy", ALL, filters=filters, limit=1000)
    assert ids(hits) == expected


def test_naive_datetimes_are_taken_as_utc(loaded: VectorStore, corpus: Corpus) -> None:
    naive = SearchFilters(modified_before=datetime(2024, 1, 15, 0, 0, 1))
    aware = SearchFilters(modified_before=datetime(2024, 1, 15, 0, 0, 1, tzinfo=UTC))
    hits = search(loaded, corpus, "laptop", ALL, filters=naive, limit=1000)
    assert ids(hits) == ids(search(loaded, corpus, "laptop", ALL, filters=aware, limit=1000))
    assert "d-onboard" in {h.chunk.document_id for h in hits}  # stored naive, 2024-01-15 00:00


# --- writes --------------------------------------------------------------------------------------


def version(chunks: list[ChunkRecord], doc_id: str, new_version: str) -> list[ChunkRecord]:
    """The document's chunks as they would be re-chunked for a new version (new chunk ids)."""
    out = []
    for c in chunks:
        if c.document_id == doc_id:
            content_hash = f"{c.content_hash}-{new_version}"
            cid = chunk_id_for(doc_id, c.ordinal, content_hash)
            out.append(
                replace(c, chunk_id=cid, content_hash=content_hash, document_version=new_version)
            )
    return out


def test_upsert_replaces_by_chunk_id(fresh: VectorStore, corpus: Corpus) -> None:
    fresh.upsert(corpus.chunks, corpus.vectors)
    first = corpus.chunks[0]
    fresh.upsert([replace(first, title="VPN (revised)")], corpus.vectors[:1])
    assert fresh.count() == len(corpus.chunks)
    hits = search(fresh, corpus, "reset VPN password", everyone(), limit=1)
    assert hits[0].chunk == replace(first, title="VPN (revised)")


def test_delete_document_keeps_only_the_given_version(fresh: VectorStore, corpus: Corpus) -> None:
    fresh.upsert(corpus.chunks, corpus.vectors)
    v2 = version(corpus.chunks, "d-vpn", "v2")
    fresh.upsert(v2, corpus.vectors[: len(v2)])
    assert fresh.count(document_id="d-vpn") == 4
    assert fresh.document_versions("kb")["d-vpn"] == {"v1", "v2"}

    fresh.delete_document("d-vpn", keep_version="v2")
    assert fresh.count(document_id="d-vpn") == 2
    assert fresh.document_versions("kb")["d-vpn"] == {"v2"}
    hits = search(
        fresh, corpus, "VPN", everyone(), filters=SearchFilters(document_ids=frozenset({"d-vpn"}))
    )
    assert ids(hits) == {c.chunk_id for c in v2}

    fresh.delete_document("d-vpn")
    assert fresh.count(document_id="d-vpn") == 0
    assert "d-vpn" not in fresh.document_versions("kb")
    assert fresh.count() == len(corpus.chunks) - 2


def test_set_document_access_applies_to_the_next_search(fresh: VectorStore, corpus: Corpus) -> None:
    fresh.upsert(corpus.chunks, corpus.vectors)
    hr, it = (
        AccessFilter(holds=frozenset({"group:hr"})),
        AccessFilter(holds=frozenset({"group:it"})),
    )
    query = "parental leave requests"
    assert search(fresh, corpus, query, hr, limit=1)[0].chunk.document_id == "d-leave"

    fresh.set_document_access("d-leave", read=["group:it"], deny=[])
    assert "d-leave" not in {
        h.chunk.document_id for h in search(fresh, corpus, query, hr, limit=100)
    }
    top = search(fresh, corpus, query, it, limit=1)[0]
    assert top.chunk.document_id == "d-leave"
    assert (top.chunk.read, top.chunk.deny) == (("group:it",), ())

    fresh.set_document_access("d-leave", read=["group:it"], deny=["group:it"])
    assert "d-leave" not in {
        h.chunk.document_id for h in search(fresh, corpus, query, it, limit=100)
    }
    assert fresh.count(document_id="d-leave") == 1  # payload changed, points untouched


def test_document_versions_pages_through_every_document(fresh: VectorStore, corpus: Corpus) -> None:
    base = corpus.chunks[0]
    chunks, expected = [], {}
    for n in range(11):  # 11 documents, 1-3 chunks and 1-2 versions each; page size is 3
        doc = f"bulk-{n}"
        versions = ["v1", "v2"] if n % 3 == 0 else ["v1"]
        expected[doc] = frozenset(versions)
        for v in versions:
            for ordinal in range(1 + n % 3):
                chunks.append(
                    replace(
                        base,
                        chunk_id=chunk_id_for(doc, ordinal, v),
                        document_id=doc,
                        source_id="bulk",
                        document_version=v,
                        ordinal=ordinal,
                    )
                )
    vectors = [corpus.vectors[i % len(corpus.vectors)] for i in range(len(chunks))]
    fresh.upsert(chunks, vectors)
    fresh.upsert(corpus.chunks[:3], corpus.vectors[:3])  # another source, not listed
    assert len(chunks) > 3 * 3
    assert fresh.document_versions("bulk") == expected
    assert fresh.document_versions("nowhere") == {}
    assert fresh.count(source_id="bulk") == len(chunks)


def test_count_by_source_and_document(fresh: VectorStore, corpus: Corpus) -> None:
    assert fresh.count() == 0
    fresh.upsert(corpus.chunks, corpus.vectors)
    assert fresh.count() == len(corpus.chunks)
    assert fresh.count(source_id="kb") == sum(c.source_id == "kb" for c in corpus.chunks)
    assert fresh.count(document_id="d-badge") == 2
    assert fresh.count(source_id="kb", document_id="d-badge") == 2
    assert fresh.count(source_id="hr", document_id="d-badge") == 0


# --- misuse --------------------------------------------------------------------------------------


def test_bad_arguments_are_developer_errors(fresh: VectorStore, corpus: Corpus) -> None:
    with pytest.raises(ValueError, match="query_vector"):
        fresh.search(query_text="vpn", query_vector=None, access=everyone(), mode="hybrid")
    with pytest.raises(ValueError, match="dimensions"):
        fresh.search(query_text="vpn", query_vector=[0.1] * 3, access=everyone(), mode="dense")
    with pytest.raises(ValueError, match="dense vectors"):
        fresh.upsert(corpus.chunks[:2], corpus.vectors[:1])
    with pytest.raises(ValueError, match="UUID"):
        fresh.upsert([replace(corpus.chunks[0], chunk_id="chunk-1")], corpus.vectors[:1])
    assert fresh.search(query_text="vpn", query_vector=None, access=everyone(), mode="sparse") == []


def test_reopening_with_another_dimension_is_refused(backend: str, tmp_path: Path) -> None:
    open_store(store_settings(backend, tmp_path / "index"), dimension=DIM).close()
    with pytest.raises(StoreError, match="schema"):
        open_store(store_settings(backend, tmp_path / "index"), dimension=DIM // 2)


def test_close_is_idempotent_and_final(backend: str, tmp_path: Path) -> None:
    store = open_store(store_settings(backend, tmp_path / "index"), dimension=DIM)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.count()


@pytest.mark.parametrize("mode", MODES)
def test_equal_scores_come_back_in_point_id_order(
    fresh: VectorStore, corpus: Corpus, mode: SearchMode
) -> None:
    """The same passage in several documents scores the same: the order of such ties was
    Qdrant's, which changed between runs (CLAP NQ's dev set holds one passage under two ids, and
    which of them an answer cited flipped from run to run). Ties now go by point id."""
    base = corpus.chunks[0]
    copies = [
        replace(base, chunk_id=chunk_id_for(f"d-copy-{n}", 0, "same"), document_id=f"d-copy-{n}")
        for n in range(6)
    ]
    fresh.upsert(list(reversed(copies)), [corpus.vectors[0]] * len(copies))
    hits = search(fresh, corpus, "reset VPN password", everyone(), mode=mode, limit=6)
    assert [h.chunk.chunk_id for h in hits] == sorted(c.chunk_id for c in copies)
