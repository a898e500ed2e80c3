"""Benchmark: `proofdesk prune` (the state mark-and-sweep) on a large index.

A synthetic index of `--chunks` chunks (Qdrant Edge on disk) and its state database (SQLite),
as ingestion leaves them: per chunk a cached embedding, sentence units and vectors, screen
verdicts and PII findings; plus `--dead` of each for chunks that are gone (an edited or deleted
document's old content). The prune runs in a child process that opens the store and the state
database as `proofdesk prune` does (`Components`, `build_ingest`'s pruner: the composition
root, which the set-up writes through too), so its memory is measured apart from the set-up:
the report gives the child's resident memory after opening (the baseline) and at its peak, and
the time of a dry run and of the real prune. It also checks that exactly the dead rows were
removed.

    python -m evals.bench.prune [--chunks 100000] [--dead 0.2] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from api.bootstrap.components import Components
from api.bootstrap.index import IngestContext, build_ingest
from api.settings import Settings
from evals.corpus_files import write_sources_file
from ingest.settings import IngestSettings
from ingest.state import embedding_key
from policies.pii.findings_store import FindingsStore
from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings
from policies.pii.types import PiiFinding
from retrieval.records import ChunkRecord, chunk_id_for
from retrieval.sentence_vectors import ChunkSentences, sentence_key, shown_texts
from retrieval.sentences import sentence_units
from retrieval.store_factory import EdgeStoreSettings

__all__ = ["bench_rows", "main", "run"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_WORDS = [
    "account",
    "badge",
    "printer",
    "queue",
    "ticket",
    "laptop",
    "network",
    "password",
    "policy",
    "leave",
    "expense",
    "invoice",
    "vendor",
    "floor",
    "desk",
    "booking",
    "access",
    "request",
    "approval",
    "manager",
    "payroll",
    "travel",
    "device",
    "update",
    "backup",
    "restore",
    "folder",
    "share",
    "calendar",
    "meeting",
    "room",
    "parking",
    "locker",
    "shipment",
    "order",
    "refund",
]


def _chunk(i: int, rng: random.Random) -> ChunkRecord:
    sentences = [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
        for _ in range(rng.randint(5, 10))
    ]
    text = f"{' '.join(sentences)} Reference {i:07d}."
    doc = f"bench:doc-{i // 8:06d}"
    content = f"{i:032x}"
    return ChunkRecord(
        chunk_id=chunk_id_for(doc, i % 8, content),
        document_id=doc,
        source_id="bench",
        title=f"Procedure {i // 8}",
        heading_path=(f"Procedure {i // 8}", f"Part {i % 8}"),
        uri=f"https://kb.example.com/{i // 8}",
        start=0,
        end=len(text),
        text=text,
        content_hash=content,
        document_version="v1",
        read=("group:all-staff",),
        deny=(),
        doc_type="md",
        ordinal=i % 8,
    )


def _write_rows(
    chunks: Sequence[ChunkRecord],
    *,
    context: IngestContext,
    findings: FindingsStore,
    redactor: PresidioRedactor,
    rng: np.random.Generator,
) -> int:
    """The four tables' rows for `chunks`, as ingestion writes them (keyed as the prune
    recomputes the keys: by ingest's chunker and model); returns sentence units."""
    embedder, sentences = context.embedder, context.sentences.store
    assert sentences is not None  # the composition root's sentence vectors are stored
    dim = embedder.dimension
    texts = context.chunker.embed_texts([(c.title, c.heading_path, c.text) for c in chunks])
    context.state.cache_embeddings(
        {
            embedding_key(embedder.model_id, t): rng.standard_normal(dim).astype(np.float32)
            for t in texts
        }
    )
    units = [tuple(sentence_units(c.text, c.heading_path)) for c in chunks]
    entries = {}
    for chunk, found in zip(chunks, units, strict=True):
        vectors = rng.standard_normal((len(found), dim)).astype(np.float32)
        entries[sentence_key(embedder.model_id, chunk)] = ChunkSentences(found, vectors, vectors)
    sentences.put(entries)
    sentences.put_screens(
        {key: tuple(False for _ in e.sentences) for key, e in entries.items()}, "screen"
    )
    finding = (PiiFinding("PERSON", 0, 4, 0.85),)
    findings.put(dict.fromkeys(redactor.stored_keys(shown_texts(chunks, units)), finding))
    return sum(len(u) for u in units)


def _settings(workdir: Path) -> Settings:
    """The settings `proofdesk prune` runs with, over the index and state database in
    `workdir`: the product's defaults (PII findings precomputed at ingest, and so pruned), the
    one source `bench`. The redactor finds by patterns only: the findings' keys are what
    matters here, not their analysis."""
    (workdir / "empty").mkdir(exist_ok=True)
    sources = write_sources_file(workdir / "sources.yaml", [("bench", workdir / "empty")])
    return Settings(
        ingest=IngestSettings(
            sources_file=sources,
            state_url=f"sqlite:///{workdir / 'state.db'}",
            precompute_pii=True,
        ),
        store=EdgeStoreSettings(path=workdir / "index"),
        redaction=RedactionSettings(engine="patterns"),
    )


def _build(workdir: Path, n_chunks: int, dead: float) -> dict[str, object]:
    rng = np.random.default_rng(7)
    text_rng = random.Random(7)  # noqa: S311 - reproducible synthetic data
    n_dead = int(n_chunks * dead)
    units = 0
    # The rows as `proofdesk ingest` leaves them, through the parts the composition root
    # builds for it; the synthetic PII findings go straight into the redactor's table (under
    # its fingerprint), which analysing every sentence would only slow down.
    with Components(_settings(workdir)) as parts:
        context = build_ingest(parts)
        redactor = parts.redactor
        findings = FindingsStore(engine=parts.state_engine, fingerprint=redactor.fingerprint())
        for start in range(0, n_chunks + n_dead, 2000):
            batch = [
                _chunk(i, text_rng) for i in range(start, min(start + 2000, n_chunks + n_dead))
            ]
            units += _write_rows(
                batch, context=context, findings=findings, redactor=redactor, rng=rng
            )
            live = [c for i, c in enumerate(batch, start) if i < n_chunks]
            if live:
                dim = context.embedder.dimension
                vectors = rng.standard_normal((len(live), dim)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                context.store.upsert(live, vectors.tolist())
        context.store.flush()
    return {"chunks": n_chunks, "dead_chunks": n_dead, "sentence_units": units}


def _rss_mb() -> float:
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _prune_child(workdir: str, queue: multiprocessing.Queue[dict[str, object]]) -> None:
    # As `proofdesk prune` opens them: `Components` and `build_ingest`'s pruner.
    with Components(_settings(Path(workdir))) as parts:
        context = build_ingest(parts)
        store, pruner = context.store, context.pruner
        opened_mb = _rss_mb()
        started = time.perf_counter()
        scrolled = sum(len(page) for page in store.iter_chunks())
        scroll_s = time.perf_counter() - started
        started = time.perf_counter()
        dry = pruner.prune(dry_run=True)
        dry_s = time.perf_counter() - started
        started = time.perf_counter()
        done = pruner.prune()
        prune_s = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "scroll_seconds": round(scroll_s, 2),  # reading the index alone: the baseline
            "scrolled_chunks": scrolled,
            "dry_run_seconds": round(dry_s, 2),
            "prune_seconds": round(prune_s, 2),
            "rss_after_open_mb": round(opened_mb, 1),
            "rss_peak_mb": round(peak_mb, 1),
            "dry_run": dry.as_dict(),
            "prune": done.as_dict(),
        }
    )


def run(n_chunks: int = 100_000, dead: float = 0.2) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="proofdesk-bench-prune-") as tmp:
        started = time.perf_counter()
        built = _build(Path(tmp), n_chunks, dead)
        built["build_seconds"] = round(time.perf_counter() - started, 1)
        context = multiprocessing.get_context("spawn")
        queue: multiprocessing.Queue[dict[str, object]] = context.Queue()
        child = context.Process(target=_prune_child, args=(tmp, queue))
        child.start()
        measured = queue.get()
        child.join()
    prune = measured["prune"]
    assert isinstance(prune, dict)
    tables = prune["tables"]
    n_dead = int(str(built["dead_chunks"]))
    # Every dead chunk's embedding and sentence rows go; a live one's never do.
    correct = (
        tables["embedding_cache"] == {"kept": n_chunks, "removed": n_dead}
        and tables["sentence_vectors"] == {"kept": n_chunks, "removed": n_dead}
        and tables["sentence_screens"] == {"kept": n_chunks, "removed": n_dead}
    )
    return {**built, **measured, "dead_rows_removed_exactly": correct}


def bench_rows(_data: Path, *, quick: bool) -> tuple[list[tuple[str, ...]], dict[str, object]]:
    """`make bench`'s row: the prune against reading the index alone (its mark's first step)."""
    result = run(10_000 if quick else 100_000)
    prune, scroll = float(str(result["prune_seconds"])), float(str(result["scroll_seconds"]))
    ok = "" if result["dead_rows_removed_exactly"] else " WRONG ROWS REMOVED"
    return [
        (
            f"state prune @{int(str(result['chunks'])) // 1000}k chunks, 20% dead (s; peak MB)",
            f"{prune:.1f}; {result['rss_peak_mb']}{ok}",
            f"scroll of the index alone: {scroll:.1f}; after open {result['rss_after_open_mb']}",
            f"{prune / scroll:.2f}×" if scroll else "-",
        )
    ], result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--dead", type=float, default=0.2, help="dead chunks per live chunk")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args.chunks, args.dead)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_prune.json").write_text(text + "\n", encoding="utf-8")
    return 0 if result["dead_rows_removed_exactly"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
