"""`api.bootstrap.index`: the chunker `build_ingest` exposes is the one ingest cuts with, and
`build_retrieval` takes other search settings (a benchmark's uncached baseline) over the same
parts."""

from __future__ import annotations

from pathlib import Path

from api.bootstrap.components import Components
from api.bootstrap.index import build_ingest, build_retrieval
from api.settings import Settings
from ingest.chunking import Chunker
from ingest.parsing import parse_document
from ingest.settings import IngestSettings
from policies.access.settings import PolicySettings
from retrieval.embedding.embedder import SentenceTransformerEmbedder
from retrieval.service import RetrievalRequest, RetrievalSettings
from retrieval.store_factory import EdgeStoreSettings
from tests.fixtures.counting import CountingEmbedder

_SENTENCE = "The {n}th floor printer queue is cleared by the service desk every evening at six. "
_DOC = "# Printers\n\n" + "".join(_SENTENCE.format(n=n) for n in range(1, 40))


def _settings(root: Path, *, chunk_tokens: int) -> Settings:
    (root / "docs").mkdir()
    (root / "docs" / "printers.md").write_text(_DOC, encoding="utf-8")
    (root / "sources.yaml").write_text(
        f"sources:\n  - id: kb\n    kind: filesystem\n    root: {root / 'docs'}\n"
        "    read: [public]\n",
        encoding="utf-8",
    )
    (root / "policy.csv").write_text("p, public, source:*, read, allow\n", encoding="utf-8")
    return Settings(
        ingest=IngestSettings(
            sources_file=root / "sources.yaml",
            state_url=f"sqlite:///{root / 'state.db'}",
            chunk_target_tokens=chunk_tokens,
            precompute_pii=False,
        ),
        store=EdgeStoreSettings(path=root / "index"),
        policy=PolicySettings(policy_path=root / "policy.csv"),
    )


def test_the_ingest_context_chunker_is_the_one_ingest_cuts_with(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = _settings(tmp_path, chunk_tokens=48)
    parsed = parse_document(_DOC.encode(), "md", fallback_title="printers")
    default_cut = len(Chunker(tokens=embedder).chunk(parsed))
    with Components(settings, embedder=embedder) as parts:
        context = build_ingest(parts)
        report = context.runner.run("kb", trigger="cli").report

        cut = context.chunker.chunk(parsed)
        assert report.status == "succeeded"
        assert report.chunks_written == len(cut) == context.store.count()
        assert len(cut) > default_cut  # the configured 48 tokens, not the default 200


def test_build_retrieval_takes_other_search_settings_over_the_same_parts(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = _settings(tmp_path, chunk_tokens=200)
    counting = CountingEmbedder(embedder)
    with Components(settings, embedder=counting) as parts:  # type: ignore[arg-type]
        build_ingest(parts).runner.run("kb", trigger="cli")
        served = build_retrieval(parts)
        uncached = build_retrieval(parts, settings=RetrievalSettings(query_cache_size=0))
        request = RetrievalRequest(
            query="When is the printer queue cleared?",
            principal=parts.policy.principal_for("ann"),
            top_k=3,
        )

        before = counting.queries
        for _ in range(3):
            assert served.retrieve(request).chunks
        cached_embeddings = counting.queries - before
        before = counting.queries
        for _ in range(3):
            assert uncached.retrieve(request).chunks
        fresh_embeddings = counting.queries - before

    assert served.settings == settings.retrieval
    assert uncached.settings.query_cache_size == 0
    assert (cached_embeddings, fresh_embeddings) == (1, 3)
