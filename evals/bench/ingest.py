"""Ingest benchmark: end-to-end ingest throughput against raw embedding of the same chunks.

Run: python -m evals.bench.ingest --data ../shared/data [--limit N]

In one process, on the same chunks and the same embedder (the served backend, ONNX Runtime):
  1. raw: chunk every document, then embed all chunk texts (embedding only);
  2. ingest: a full sync into a fresh Qdrant Edge index + SQLite state (parse, chunk, flag PII
     and injection, embed, BM25, upsert, record), storing every chunk's sentence vectors and
     the PII findings of its sentences for answering, as `proofdesk ingest` does: the sync
     runner, embedder, chunker and state are the ones the composition root builds for it
     (`api.bootstrap`: `Components`, `build_ingest`), and the baselines use that embedder
     and chunker;
  3. re-run: the same sync again, nothing changed.
Besides ingest against raw chunk embedding, the ratio against raw embedding of everything
ingestion embeds (chunks and their sentence units, both framings) shows what the pipeline adds
on top of the model.
Peak memory is the maximum resident set size of this process (model included).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from api.bootstrap.components import Components
from api.bootstrap.index import build_ingest
from api.settings import Settings
from evals.corpus_files import write_beir_corpus, write_sources_file
from ingest.documents import ChunkDraft
from ingest.parsing import parse_document
from ingest.settings import IngestSettings
from retrieval.embedding.embedder import Embedder
from retrieval.records import ChunkRecord
from retrieval.sentence_vectors import SentenceVectors
from retrieval.store_factory import EdgeStoreSettings


def _record(title: str, draft: ChunkDraft) -> ChunkRecord:
    """The fields of a chunk that its sentence units depend on (text, title, headings)."""
    return ChunkRecord(
        chunk_id=str(draft.ordinal),
        document_id="raw",
        source_id="raw",
        title=title,
        heading_path=draft.heading_path,
        uri="",
        start=draft.start,
        end=draft.end,
        text=draft.text,
        content_hash="",
        document_version="",
        read=(),
        deny=(),
        doc_type="md",
        ordinal=draft.ordinal,
    )


def _settings(tmp: Path, sources: Path, *, flag_pii: bool) -> Settings:
    """`proofdesk ingest`'s settings (the product's defaults: PII flagged by patterns, the PII
    findings of indexed sentences precomputed) over a fresh index and state database in `tmp`."""
    return Settings(
        ingest=IngestSettings(
            sources_file=sources,
            state_url=f"sqlite:///{tmp / 'state.db'}",
            flag_pii=flag_pii,
            precompute_pii=True,
        ),
        store=EdgeStoreSettings(path=tmp / "index"),
    )


def run(
    data: Path, *, limit: int | None, flag_pii: bool = True, embedder: Embedder | None = None
) -> dict[str, Any]:
    """`embedder`: a model this process already loaded (default: the configured one, loaded
    by the composition root)."""
    with tempfile.TemporaryDirectory(prefix="pd-bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        docs = write_beir_corpus(data / "scifact" / "corpus.jsonl", tmp / "corpus", limit=limit)
        sources = write_sources_file(tmp / "sources.yaml", [("scifact", tmp / "corpus")])
        # What `proofdesk ingest` runs, built by the composition root: its embedder, chunker,
        # PII flagging and findings, sentence vectors, store and state database.
        settings = _settings(tmp, sources, flag_pii=flag_pii)
        with Components(settings, embedder=embedder) as parts:
            context = build_ingest(parts)
            embedder, chunker = context.embedder, context.chunker

            # The baselines: the same chunker and model, embedding only.
            t0 = time.perf_counter()
            texts: list[str] = []
            records: list[ChunkRecord] = []
            for path in sorted((tmp / "corpus").glob("*.md")):
                parsed = parse_document(path.read_bytes(), "md", fallback_title=path.stem)
                for draft in chunker.chunk(parsed):
                    texts.append(draft.embed_text)
                    records.append(_record(parsed.title, draft))
            chunk_seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            embedder.embed_documents(texts)
            raw_seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            SentenceVectors(embedder=embedder).embed(records)  # no store: embedding only
            raw_sentence_seconds = time.perf_counter() - t0

            t0 = time.perf_counter()
            full = context.runner.run("scifact", trigger="cli").report
            full_seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = context.runner.run("scifact", trigger="cli").report
            rerun_seconds = time.perf_counter() - t0

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    raw_rate = len(texts) / raw_seconds
    ingest_rate = full.chunks_written / full_seconds
    return {
        "documents": docs,
        "chunks": len(texts),
        "chunking_seconds": round(chunk_seconds, 2),
        "raw_embedding_seconds": round(raw_seconds, 2),
        "raw_embedding_chunks_per_s": round(raw_rate, 2),
        "ingest_seconds": round(full_seconds, 2),
        "ingest_chunks_written": full.chunks_written,
        "ingest_chunks_per_s": round(ingest_rate, 2),
        "ingest_vs_raw": round(ingest_rate / raw_rate, 3),
        "raw_sentence_embedding_seconds": round(raw_sentence_seconds, 2),
        "ingest_sentence_chunks_embedded": full.sentence_chunks_embedded,
        "ingest_pii_segments_analysed": full.pii_segments_analysed,
        "ingest_vs_raw_chunks_and_sentences": round(
            (raw_seconds + raw_sentence_seconds) / full_seconds, 3
        ),
        "rerun_seconds": round(rerun_seconds, 2),
        "rerun_chunks_embedded": again.chunks_embedded,
        "rerun_share_of_full": round(rerun_seconds / full_seconds, 4),
        "peak_rss_mb": round(peak_mb, 1),
        "pii_flagging": flag_pii,
        "status": [full.status, again.status],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--limit", type=int, default=None, help="documents (default: all)")
    parser.add_argument("--no-pii-flag", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.data, limit=args.limit, flag_pii=not args.no_pii_flag)
    print(json.dumps(result, indent=2))
    ok = (
        result["ingest_vs_raw_chunks_and_sentences"] >= 0.8
        and result["rerun_share_of_full"] <= 0.05
        and result["peak_rss_mb"] <= 2048
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
