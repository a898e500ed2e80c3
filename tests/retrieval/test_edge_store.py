"""What only the embedded Qdrant Edge backend does: the one-process lock, persistence on disk,
write-ahead-log recovery, and HNSW building with `optimize()`.

Vectors here are seeded random unit vectors: these tests are about the engine, not ranking
(the contract suite covers ranking with the real embedding model).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from policies.access.filters import AccessFilter
from retrieval.edge_store import EdgeStore
from retrieval.store import StoreLockedError
from retrieval.store_factory import EdgeStoreSettings, open_store
from tests.fixtures.edge_chunks import DIM, READERS, chunks, unit_vectors

REPO_ROOT = Path(__file__).resolve().parents[2]


def nearest(store: EdgeStore, vector: list[float], reader: str) -> str:
    hits = store.search(
        query_text="",
        query_vector=vector,
        access=AccessFilter(holds=frozenset({reader})),
        limit=1,
        mode="dense",
    )
    return hits[0].chunk.chunk_id


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def store(index_path: Path) -> Iterator[EdgeStore]:
    with EdgeStore(path=index_path, dimension=DIM) as opened:
        yield opened


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run a snippet in a separate interpreter (a real second process, with its own lock)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )


OPEN_IN_CHILD = """
    import sys
    from pathlib import Path
    from retrieval.store import StoreLockedError
    from retrieval.store_factory import EdgeStoreSettings, open_store
    try:
        store = open_store(EdgeStoreSettings(path=Path({path!r})), dimension={dim})
    except StoreLockedError as exc:
        print(exc)
        sys.exit(3)
    print("opened", store.count())
    store.close()
"""


def test_a_second_process_is_refused_with_a_clear_message(
    store: EdgeStore, index_path: Path
) -> None:
    store.upsert(chunks(5), unit_vectors(5, seed=1))
    child = run_python(OPEN_IN_CHILD.format(path=str(index_path), dim=DIM))
    assert child.returncode == 3, child.stderr
    assert f"the index at {index_path} is open in another process" in child.stdout
    assert "proofdesk serve" in child.stdout

    store.close()  # releases the lock
    child = run_python(OPEN_IN_CHILD.format(path=str(index_path), dim=DIM))
    assert child.returncode == 0, child.stdout + child.stderr
    assert child.stdout.split() == ["opened", "5"]


def test_a_second_open_in_the_same_process_is_refused(store: EdgeStore, index_path: Path) -> None:
    with pytest.raises(StoreLockedError, match="open in another process"):
        EdgeStore(path=index_path, dimension=DIM)
    assert store.count() == 0  # the first handle is unaffected


def test_the_index_persists_across_close_and_reopen(store: EdgeStore, index_path: Path) -> None:
    written, vectors = chunks(40), unit_vectors(40, seed=2)
    store.upsert(written, vectors)
    store.set_document_access("doc-0", read=["group:z"], deny=[])
    store.close()

    with EdgeStore(path=index_path, dimension=DIM) as reopened:
        assert reopened.count() == 40
        assert reopened.document_versions("kb") == {
            f"doc-{n}": frozenset({"v1"}) for n in range(10)
        }
        assert nearest(reopened, vectors[7], READERS[7 % 3]) == written[7].chunk_id
        assert nearest(reopened, vectors[1], "group:z") == written[1].chunk_id  # doc-0's new ACL
        assert set(reopened.stats().payload_indexes) == {
            "read", "deny", "source_id", "document_id", "document_version", "doc_type",
            "modified_ts",
        }  # fmt: skip


def test_payload_indexes_are_created_with_their_types(store: EdgeStore) -> None:
    indexes = store.stats().payload_indexes
    assert indexes["read"] == indexes["deny"] == indexes["document_id"] == "keyword"
    assert indexes["modified_ts"] == "float"


def test_unflushed_writes_survive_a_crash_through_the_wal(index_path: Path) -> None:
    crash = f"""
        import os
        from pathlib import Path
        from retrieval.edge_store import EdgeStore
        from tests.fixtures.edge_chunks import chunks, unit_vectors
        store = EdgeStore(path=Path({str(index_path)!r}), dimension={DIM})
        store.upsert(chunks(12), unit_vectors(12, seed=3))
        os._exit(0)  # no flush, no close
    """
    child = run_python(crash)
    assert child.returncode == 0, child.stderr
    with EdgeStore(path=index_path, dimension=DIM) as reopened:
        assert reopened.count() == 12


def test_points_written_after_optimize_are_searchable_before_the_next_one(
    index_path: Path,
) -> None:
    settings = EdgeStoreSettings(path=index_path, indexing_threshold_kb=1)  # force an HNSW graph
    store = open_store(settings, dimension=DIM)
    assert isinstance(store, EdgeStore)
    with store:
        first, first_vectors = chunks(300), unit_vectors(300, seed=4)
        store.upsert(first, first_vectors)
        # `indexed_vectors` counts sparse (always indexed) and dense vectors in an HNSW graph.
        sparse_only = store.stats().indexed_vectors
        store.optimize()
        assert store.stats().indexed_vectors == sparse_only + 300

        later, later_vectors = chunks(60, start=300), unit_vectors(60, seed=5)
        store.upsert(later, later_vectors)
        assert store.stats().indexed_vectors == sparse_only + 60 + 300  # not in a graph yet...
        for i, (chunk, vector) in enumerate(zip(later, later_vectors, strict=True)):
            assert nearest(store, vector, READERS[(300 + i) % 3]) == chunk.chunk_id  # ...but found
        for i in range(0, 300, 25):  # the indexed ones too, through the graph and the filter
            assert nearest(store, first_vectors[i], READERS[i % 3]) == first[i].chunk_id

        store.optimize()
        assert store.stats().indexed_vectors == sparse_only + 60 + 360
        assert nearest(store, later_vectors[0], READERS[0]) == later[0].chunk_id


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ({}, 40_000),
        ({"full_scan_threshold_kb": 1234}, 1234),
        ({"full_scan_threshold_kb": None}, None),
    ],
)
def test_the_full_scan_threshold_is_written_into_a_new_index(
    tmp_path: Path, configured: dict[str, int | None], expected: int | None
) -> None:
    # Filtered HNSW recall was 0.22 at 100k chunks with the engine's default threshold; the
    # index the settings create must carry ours (the engine reads it from this file).
    store = open_store(EdgeStoreSettings(path=tmp_path / "index", **configured), dimension=4)
    store.close()
    config = json.loads((tmp_path / "index" / "edge_config.json").read_text())
    found = config.get("hnsw_config", {}).get("full_scan_threshold")
    assert found == expected


def test_acorn_searches_through_the_graph_and_still_returns_only_what_the_filter_admits(
    tmp_path: Path,
) -> None:
    """With `acorn` and a threshold low enough that a filtered search walks the HNSW graph,
    every hit is one the reader may read and the top 10 match an exact search's."""
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(30, DIM))
    rows = centres[rng.integers(0, 30, 1200)] + 0.35 * rng.normal(size=(1200, DIM))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    queries = centres[rng.integers(0, 30, 20)] + 0.35 * rng.normal(size=(20, DIM))
    records = chunks(1200)
    found: dict[bool, list[set[str]]] = {}
    for acorn in (False, True):
        settings = EdgeStoreSettings(
            path=tmp_path / f"acorn-{acorn}",
            acorn=acorn,
            exact=not acorn,
            full_scan_threshold_kb=10,  # 400 readable vectors are ~600 KB: the graph is used
            indexing_threshold_kb=10,
        )
        store = open_store(settings, dimension=DIM)
        assert isinstance(store, EdgeStore)
        with store:
            store.upsert(records, rows.tolist())
            store.optimize()
            found[acorn] = []
            for query in queries:
                hits = store.search(
                    query_text="",
                    query_vector=query.tolist(),
                    access=AccessFilter(holds=frozenset({"group:a"})),
                    limit=10,
                    mode="dense",
                )
                assert {h.chunk.read for h in hits} == {("group:a",)}
                found[acorn].append({h.chunk.chunk_id for h in hits})
    agree = sum(len(a & e) for a, e in zip(found[True], found[False], strict=True))
    assert agree / (10 * len(queries)) >= 0.9


def test_payloads_are_kept_in_memory_unless_configured_and_either_placement_reopens(
    index_path: Path,
) -> None:
    """`payload_memory` (default "cached": payloads in RAM, the hits of a search read without
    touching the files) applies at every open: a shard written cold reopens cached with its
    data, and back."""
    written, vectors = chunks(12), unit_vectors(12, seed=5)

    def placement() -> str:
        config = json.loads((index_path / "edge_config.json").read_text(encoding="utf-8"))
        return str(config["payload_memory"])

    with EdgeStore(path=index_path, dimension=DIM, payload_memory="cold") as cold:
        cold.upsert(written, vectors)
        assert placement() == "cold"
    with EdgeStore(path=index_path, dimension=DIM) as cached:
        assert placement() == "cached"
        assert cached.retrieve_chunks([c.chunk_id for c in written]) == written
        assert nearest(cached, vectors[4], READERS[4 % 3]) == written[4].chunk_id
    reopened = open_store(EdgeStoreSettings(path=index_path, payload_memory="cold"), dimension=DIM)
    try:
        assert placement() == "cold"
        assert reopened.count() == len(written)
    finally:
        reopened.close()
