"""The ingest and answer benchmarks at a tiny size, on in-test data: they run what the
composition root builds (`Components`, `build_ingest`, `build_retrieval`, the answer
pipeline) and report their figures next to their same-run baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.bench import answers as answers_bench
from evals.bench import ingest as ingest_bench
from retrieval.embedding.embedder import SentenceTransformerEmbedder
from retrieval.reading import ReaderSettings

_TOPICS = [
    ("Photosynthesis", "Leaves turn sunlight, water and carbon dioxide into glucose."),
    ("Coral bleaching", "Warm ocean water makes corals expel the algae that feed them."),
    ("Borrow checking", "The compiler tracks ownership so that memory is freed exactly once."),
    ("Marathon training", "Runners build weekly mileage slowly before a long race."),
    ("Sourdough", "A starter of flour and water ferments and leavens the bread."),
    ("Tides", "The moon's gravity raises the sea twice a day on most coasts."),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `--data` root with a SciFact-shaped corpus (names and contact details in some
    abstracts, for the PII findings ingest stores) and 16 queries."""
    root = tmp_path_factory.mktemp("bench-data")
    scifact = root / "scifact"
    scifact.mkdir()
    rows = []
    for n, (title, text) in enumerate(_TOPICS * 2):
        contact = f" Ask Jane Roe at jane{n}@example.org for the data." if n % 3 == 0 else ""
        rows.append({"_id": f"d{n}", "title": f"{title} {n}", "text": f"{text}{contact} " * 3})
    (scifact / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    queries = [f"what does the study {n} say about {t.lower()}" for n, (t, _) in enumerate(_TOPICS)]
    queries += [f"how do {t.lower()} and tides relate" for t, _ in _TOPICS]
    queries += ["why does bread rise", "what feeds corals", "how far is a marathon", "moon"]
    (scifact / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{n}", "text": q}) + "\n" for n, q in enumerate(queries))
    )
    return root


def test_the_ingest_benchmark_syncs_as_proofdesk_ingest_does(
    data: Path, embedder: SentenceTransformerEmbedder
) -> None:
    result = ingest_bench.run(data, limit=None, embedder=embedder)

    assert result["documents"] == 12
    assert result["status"] == ["succeeded", "succeeded"]
    # The raw baseline cuts with ingest's chunker: the same chunks, all written and with their
    # sentence vectors stored; the product's settings precompute PII findings of sentences.
    assert result["ingest_chunks_written"] == result["chunks"] > 0
    assert result["ingest_sentence_chunks_embedded"] == result["chunks"]
    assert result["ingest_pii_segments_analysed"] > 0
    assert result["rerun_chunks_embedded"] == 0
    assert result["raw_embedding_chunks_per_s"] > 0 and result["ingest_chunks_per_s"] > 0


def test_the_answer_benchmark_times_the_product_pipeline_against_uncached_search(
    data: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    def bench() -> dict[str, object]:
        return answers_bench.run(
            data,
            size=60,
            questions=4,
            embedder=embedder,
            cache_dir=tmp_path,
            reader_settings=ReaderSettings(kind="none"),
        )

    first = bench()

    assert (first["chunks"], first["questions"]) == (60, 4)
    statuses = first["statuses"]
    assert isinstance(statuses, dict) and sum(statuses.values()) == 4
    for timed in ("answer_ms", "retrieve_ms"):
        figures = first[timed]
        assert isinstance(figures, dict) and figures["n"] == 4 and figures["p95"] > 0
    assert first["reader"] is None and first["reader_cost"] is None
    # The state database is the eval cache's: every chunk's sentence vectors are computed once
    # (keyed by content: synthesised chunks can repeat one).
    computed = first["sentence_vectors"]
    assert isinstance(computed, dict) and 0 < computed["chunks_embedded_now"] <= 60
    again = bench()
    reused = again["sentence_vectors"]
    assert isinstance(reused, dict) and reused["chunks_embedded_now"] == 0
    assert (tmp_path / answers_bench.SENTENCE_DB).is_file()
