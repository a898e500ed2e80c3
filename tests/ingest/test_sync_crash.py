"""Killing ingest (SIGKILL) mid-run and re-running leaves exactly the index a clean run makes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.embedding.embedder import SentenceTransformerEmbedder
from tests.fixtures.sync_sources import wire, write_many_documents, write_sources_file

REPO = Path(__file__).resolve().parents[2]


def _index_fingerprint(
    tmp: Path, sources: Path, embedder: SentenceTransformerEmbedder
) -> tuple[dict[str, frozenset[str]], int, int]:
    w = wire(tmp, sources, embedder)
    try:
        report = w.service.sync("it-kb")
        versions = dict(w.store.document_versions("it-kb"))
        count = w.store.count(source_id="it-kb")
        states = w.state.documents("it-kb")
        assert count == sum(s.chunk_count for s in states.values()), "duplicates or orphans"
        return versions, count, report.chunks_embedded
    finally:
        w.close()


@pytest.fixture(scope="module")
def clean_index(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> tuple[Path, dict[str, frozenset[str]], int]:
    base = tmp_path_factory.mktemp("clean")
    kb = base / "kb"
    write_many_documents(kb, 12)
    sources = write_sources_file(base / "sources.yaml", kb)
    versions, count, _ = _index_fingerprint(base, sources, embedder)
    return kb, versions, count


@pytest.mark.parametrize(
    ("mode", "n"),
    [("after-upsert", 2), ("after-upsert", 5), ("after-batch", 3), ("mid-scan", 7)],
)
def test_sigkill_then_rerun_gives_the_clean_index(
    tmp_path: Path,
    clean_index: tuple[Path, dict[str, frozenset[str]], int],
    embedder: SentenceTransformerEmbedder,
    mode: str,
    n: int,
) -> None:
    kb, clean_versions, clean_count = clean_index
    sources = write_sources_file(tmp_path / "sources.yaml", kb)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}

    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.ingest.crash_child",
            str(tmp_path),
            str(sources),
            mode,
            str(n),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    versions, count, embedded = _index_fingerprint(tmp_path, sources, embedder)
    assert versions == clean_versions
    assert count == clean_count
    assert embedded < clean_count  # embeddings cached before the kill were reused
