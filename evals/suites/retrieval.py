"""Retrieval quality on a BEIR-format directory, through the real ingest and retrieval pipeline.

Input: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`) and
`qrels/<split>.tsv` (header `query-id corpus-id score`). The corpus is written as one Markdown
file per document, ingested by `IngestService` into a Qdrant Edge index (parse, chunk, embed,
BM25), built as the product builds one (`evals.eval_index`), then every judged query is run
through `RetrievalService` as a principal that may read everything, for each search mode.
Chunk hits are aggregated to documents: a document ranks by its best chunk
(`per_document_limit=1`, `top_k=100`).

Metrics (trec_eval conventions, as BEIR reports them): nDCG@10 with the graded judgement as the
gain, recall@10 and recall@100 over the judged-relevant documents, MRR@10. Queries without a
relevant judgement are skipped.

The built index is cached per corpus hash (and the hash of the code that decides what is
indexed) under the cache directory, so the three modes and later runs reuse it.

    python -m evals.suites.retrieval --data ../shared/data/scifact [--split train]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from evals.corpus_files import _safe, read_jsonl, write_beir_corpus
from evals.corpus_files import write_sources_file as _write_sources
from evals.eval_index import EvalIndex, build_index
from evals.reporting import SuiteReport, fmt
from policies.access.principal import Principal
from retrieval.embedding.embedder import Embedder, load_embedder
from retrieval.schema import SCHEMA_VERSION
from retrieval.service import RetrievalRequest, RetrievalService, RetrievalSettings
from retrieval.store import SearchMode

__all__ = [
    "MODES",
    "BeirData",
    "ModeMetrics",
    "beir_workdir",
    "default_cache_dir",
    "evaluate_rankings",
    "load_beir",
    "mrr_at_k",
    "ndcg_at_k",
    "open_beir_index",
    "recall_at_k",
    "report",
    "run",
]

MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")
OPEN_POLICY = "p, public, source:*, read, allow\n"
_SOURCE = "beir"
# Modules whose code decides what an index holds: a change to any of them (or to the payload
# schema version) rebuilds the cache.
_INDEXING_CODE = ("ingest/chunking.py", "ingest/parsing.py", "retrieval/bm25.py")
_REPO = Path(__file__).resolve().parents[2]


# --- data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BeirData:
    corpus: Path
    split: str
    queries: dict[str, str]  # judged queries only
    qrels: dict[str, dict[str, int]]  # query id → document id → grade (> 0 only)


def load_beir(path: Path, split: str | None = None) -> BeirData:
    """A BEIR directory; `split` names `qrels/<split>.tsv` (default: the only or first file)."""
    files = sorted((path / "qrels").glob("*.tsv"))
    if not files:
        raise FileNotFoundError(f"no qrels/*.tsv under {path}")
    chosen = [f for f in files if f.stem == split] if split else files[:1]
    if not chosen:
        names = ", ".join(f.stem for f in files)
        raise FileNotFoundError(f"no qrels/{split}.tsv under {path} (have: {names})")
    qrels: dict[str, dict[str, int]] = {}
    with chosen[0].open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            grade = int(float(row["score"]))
            if grade > 0:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = grade
    queries = {
        str(q["_id"]): str(q["text"])
        for q in read_jsonl(path / "queries.jsonl")
        if str(q["_id"]) in qrels
    }
    return BeirData(path / "corpus.jsonl", chosen[0].stem, queries, {q: qrels[q] for q in queries})


# --- metrics (trec_eval conventions) -------------------------------------------------------------


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    return next((1 / (i + 1) for i, doc in enumerate(ranked[:k]) if doc in relevant), 0.0)


@dataclass(frozen=True)
class ModeMetrics:
    queries: int
    ndcg_10: float
    recall_10: float
    recall_100: float
    mrr_10: float
    p50_ms: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "queries": self.queries,
            "ndcg@10": self.ndcg_10,
            "recall@10": self.recall_10,
            "recall@100": self.recall_100,
            "mrr@10": self.mrr_10,
            "p50_ms": self.p50_ms,
        }


def evaluate_rankings(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> ModeMetrics:
    """Mean metrics over the judged queries (a query with no ranking scores 0)."""
    n = len(qrels)
    if n == 0:
        return ModeMetrics(0, 0.0, 0.0, 0.0, 0.0)
    sums = [0.0, 0.0, 0.0, 0.0]
    for qid, relevant in qrels.items():
        ranked = rankings.get(qid, ())
        sums[0] += ndcg_at_k(ranked, relevant, 10)
        sums[1] += recall_at_k(ranked, relevant, 10)
        sums[2] += recall_at_k(ranked, relevant, 100)
        sums[3] += mrr_at_k(ranked, relevant, 10)
    return ModeMetrics(n, *(s / n for s in sums))


# --- the index -------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """`$PROOFDESK_EVAL_CACHE`, else `<tmp>/proofdesk-eval-cache`."""
    configured = os.environ.get("PROOFDESK_EVAL_CACHE")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "proofdesk-eval-cache"


def beir_workdir(corpus: Path, *, cache_dir: Path, embedder: Embedder) -> Path:
    """Where the cached index of `corpus` lives: `<cache_dir>/<key>` with `index/`, `state.db`
    (whose embedding cache holds every chunk's vector) and `corpus/` (the Markdown files)."""
    return cache_dir / _cache_key(corpus, embedder)


def _cache_key(corpus: Path, embedder: Embedder) -> str:
    digest = hashlib.sha256(f"{embedder.model_id}|schema {SCHEMA_VERSION}".encode())
    with corpus.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    for rel in _INDEXING_CODE:
        digest.update((_REPO / rel).read_bytes())
    return digest.hexdigest()[:20]


def open_beir_index(
    corpus: Path, *, cache_dir: Path, embedder: Embedder, settings: RetrievalSettings | None = None
) -> tuple[EvalIndex, bool]:
    """The cached index of `corpus` (built on first use); True when it was built now."""
    workdir = beir_workdir(corpus, cache_dir=cache_dir, embedder=embedder)
    done = workdir / "complete"
    built = not done.exists()
    if built:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        write_beir_corpus(corpus, workdir / "corpus")
        _write_sources(workdir / "sources.yaml", [(_SOURCE, workdir / "corpus")])
        (workdir / "policy.csv").write_text(OPEN_POLICY, encoding="utf-8")
    index = build_index(
        sources_file=workdir / "sources.yaml",
        policy_file=workdir / "policy.csv",
        workdir=workdir,
        embedder=embedder,
        sync=built,
        settings=settings,
    )
    if built:
        index.store.flush()
        report = index.reports[_SOURCE]
        if report.status != "succeeded":
            index.close()
            raise RuntimeError(f"ingesting {corpus} failed: {report.status} {report.error}")
        done.write_text(f"{report.chunks_written} chunks\n", encoding="utf-8")
    return index, built


# --- the suite -----------------------------------------------------------------------------


def rank_documents(
    retrieval: RetrievalService,
    principal: Principal,
    queries: Mapping[str, str],
    mode: SearchMode,
    *,
    to_doc: Mapping[str, str],
    depth: int = 100,
) -> tuple[dict[str, list[str]], list[float]]:
    """Document rankings per query id (best chunk per document) and per-query latency (ms)."""
    rankings: dict[str, list[str]] = {}
    latencies: list[float] = []
    for qid, text in queries.items():
        t0 = time.perf_counter()
        result = retrieval.retrieve(
            RetrievalRequest(
                query=text, principal=principal, top_k=depth, mode=mode, per_document_limit=1
            )
        )
        latencies.append((time.perf_counter() - t0) * 1000)
        rankings[qid] = [to_doc.get(c.hit.chunk.document_id, "") for c in result.chunks]
    return rankings, latencies


def run(
    data: Path,
    *,
    split: str | None = None,
    modes: Sequence[SearchMode] = MODES,
    cache_dir: Path | None = None,
    embedder: Embedder | None = None,
    max_queries: int | None = None,
    settings: RetrievalSettings | None = None,
) -> dict[str, object]:
    """Metrics per mode on a BEIR directory, plus what was indexed and how long it took."""
    beir = load_beir(data, split)
    queries = dict(list(beir.queries.items())[:max_queries]) if max_queries else beir.queries
    qrels = {q: beir.qrels[q] for q in queries}
    embedder = embedder or load_embedder()
    t0 = time.perf_counter()
    index, built = open_beir_index(
        beir.corpus,
        cache_dir=cache_dir or default_cache_dir(),
        embedder=embedder,
        settings=settings,
    )
    build_seconds = time.perf_counter() - t0
    original = {_safe(str(row["_id"])): str(row["_id"]) for row in read_jsonl(beir.corpus)}
    try:
        to_doc = {f"{_SOURCE}:{stem}.md": doc_id for stem, doc_id in original.items()}
        principal = index.policy.principal_for(None)
        results: dict[str, object] = {}
        for mode in modes:
            rankings, latencies = rank_documents(
                index.retrieval, principal, queries, mode, to_doc=to_doc
            )
            metrics = evaluate_rankings(rankings, qrels)
            latencies.sort()
            p50 = latencies[len(latencies) // 2] if latencies else 0.0
            results[mode] = replace(metrics, p50_ms=round(p50, 2)).as_dict()
        chunks = index.store.count()
    finally:
        index.close()
    return {
        "data": str(data),
        "split": beir.split,
        "documents": len(original),
        "chunks": chunks,
        "queries": len(queries),
        "index_built_now": built,
        "index_seconds": round(build_seconds, 1),
        **results,
    }


def report(result: Mapping[str, object], *, command: str = "") -> SuiteReport:
    """The retrieval suite's table: one row per mode."""
    rows: list[list[str]] = []
    for mode in MODES:
        m = result.get(mode)
        if isinstance(m, Mapping):
            rows.append(
                [
                    mode,
                    str(m["queries"]),
                    *(fmt(float(m[k])) for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10")),
                    fmt(float(m["p50_ms"]), 1),
                ]
            )
    return SuiteReport(
        suite="retrieval",
        title=f"Retrieval quality: {result['data']} ({result['split']})",
        columns=["mode", "queries", "nDCG@10", "recall@10", "recall@100", "MRR@10", "p50 ms"],
        rows=rows,
        metrics=dict(result),
        notes=[
            f"{result['documents']} documents → {result['chunks']} chunks through the real "
            f"ingest pipeline (index {'built' if result['index_built_now'] else 'from cache'}, "
            f"{result['index_seconds']} s); documents ranked by their best chunk",
        ],
        command=command,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from evals.reporting import print_report

    parser = argparse.ArgumentParser(prog="python -m evals.suites.retrieval", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="a BEIR-format directory")
    parser.add_argument("--split", default=None)
    parser.add_argument("--max-queries", type=int, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(
        args.data, split=args.split, max_queries=args.max_queries, cache_dir=args.cache_dir
    )
    print_report(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
