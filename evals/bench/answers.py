"""Extractive answer latency at 10,000 chunks, against retrieval alone in the same run.

The index is the retrieval benchmark's corpus (every SciFact chunk as ingestion cuts and embeds
it, synthesised chunks up to the size, access lists from 300 nested groups; see
`evals.bench.retrieval`), loaded into Qdrant Edge and optimised. The index, the policy, the
sentence vectors, the search and the answer pipeline are the product's, built through the
composition root (`evals.eval_index`: `Components`, `build_ingest`, `build_retrieval`,
`answer_service`); only the baseline's search is built apart (`build_retrieval` with the
query cache off). Timed per question, as 50 users
in turn: `AnswerService.answer` end to end (screen → retrieve as the principal → select evidence →
extractive compose → verify every sentence against its span → decide; no HTTP, no LLM, answer
cache off, tracing off; the query-embedding cache on, as served, so that the pipeline's steps
share one embedding of the question), and next to it `RetrievalService.retrieve` alone with the
same request and no cache, so the ratio is what answering adds to retrieval on this machine.

The evidence sentences' vectors are read from a sentence-vector store, as ingestion leaves them
(`retrieval.sentence_vectors`): the bench computes them for every chunk first, as ingestion
would, into `<eval cache>/sentence-vectors.db` (kept between runs; the time and count of what
was embedded now are reported). The answer pipeline's per-chunk cache starts empty.

The reading model decides, as served (the bundled reader by default; `--reader-kind none`
for the decision without it); its own cost is timed apart (`reader_cost`): the pairs one
decision reads - `agent.reader_sentences` sentences (64 tokens) in one batch, their passages
(160 tokens) in another - for CLAP NQ questions and passages. `--reader-cost-only` times just
that, without the 10,000-chunk corpus.

    python -m evals.bench.answers --data ../shared/data [--size 10000] [--questions 200]
    python -m evals.bench.answers --data ../shared/data --reader-cost-only
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.settings import AgentSettings
from api.bootstrap.index import build_retrieval
from evals.bench.baseline import TOP_K, percentiles
from evals.bench.retrieval import build_corpus, load_edge_index, load_queries, real_chunks
from evals.corpus_files import write_sources_file
from evals.eval_index import answer_service_over, build_index
from evals.suites.clapnq import load_clapnq
from evals.suites.retrieval import default_cache_dir
from retrieval.embedding.embedder import Embedder, load_embedder
from retrieval.reading import PASSAGE_TOKENS, SENTENCE_TOKENS, Reader, ReaderSettings, shared_reader
from retrieval.records import ChunkRecord
from retrieval.sentence_vectors import SentenceVectors, shown_texts
from retrieval.service import RetrievalRequest

__all__ = ["SENTENCE_DB", "bench_rows", "run", "store_sentence_vectors"]

_WARMUP = 10
SENTENCE_DB = "sentence-vectors.db"  # in the eval cache: the corpus's sentence vectors


def store_sentence_vectors(
    chunks: Sequence[ChunkRecord],
    sentences: SentenceVectors,
    pii_findings: Callable[[Sequence[str]], int] | None = None,
) -> dict[str, float]:
    """What ingestion does for answering: every chunk's sentence vectors stored (those already
    stored are read, not embedded) and, with `pii_findings`, the PII findings of what an
    answer shows of them (`shown_texts`: title, URI, every sentence and quote). Returns how
    much was computed now and the seconds."""
    started = time.perf_counter()
    embedded = analysed = 0
    for start in range(0, len(chunks), 256):
        batch = chunks[start : start + 256]
        entries, count = sentences.for_chunks(batch)
        embedded += count
        if pii_findings is not None:
            analysed += pii_findings(shown_texts(batch, [e.sentences for e in entries]))
    return {
        "chunks_embedded_now": embedded,
        "pii_segments_analysed_now": analysed,
        "seconds": round(time.perf_counter() - started, 1),
    }


def run(
    data: Path,
    *,
    size: int = 10_000,
    questions: int = 200,
    embedder: Embedder | None = None,
    cache_dir: Path | None = None,
    reader_settings: ReaderSettings | None = None,
) -> dict[str, object]:
    embedder = embedder or load_embedder()
    cache = cache_dir or default_cache_dir()
    texts, vectors = real_chunks(data, embedder, cache)
    corpus = build_corpus(texts, vectors, size)
    asked = load_queries(data, questions + _WARMUP)
    with tempfile.TemporaryDirectory(prefix="pd-bench-answers-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "policy.csv").write_text("\n".join(corpus.policy_lines) + "\n", encoding="utf-8")
        (tmp / "empty").mkdir()
        # The product's composition (`evals.eval_index`): the index, the policy, the sentence
        # vectors and the search as the composition root builds them. The corpus is loaded
        # into the index directly (it is synthesised, not ingested); the state database is the
        # eval cache's, so the corpus's sentence vectors are computed once across runs.
        index = build_index(
            sources_file=write_sources_file(tmp / "sources.yaml", [("bench", tmp / "empty")]),
            policy_file=tmp / "policy.csv",
            workdir=tmp,
            embedder=embedder,
            sync=False,
            reader=reader_settings,
            state_db=cache / SENTENCE_DB,
        )
        try:
            precomputed = store_sentence_vectors(corpus.chunks, index.sentences)
            load_edge_index(corpus, index.store)
            index.store.optimize()
            # The pipeline searches as served (`index.retrieval`, with the default
            # query-embedding cache: its steps reuse the one embedding of the question, and
            # each question is asked once, so never across runs). The baseline is the same
            # search built without that cache: it embeds every query afresh.
            baseline = build_retrieval(
                index.parts,
                settings=index.settings.retrieval.model_copy(update={"query_cache_size": 0}),
            )
            service = answer_service_over(index)
            reader = shared_reader(index.settings.reader)  # the pipeline's (one per process)
            principals = [index.policy.principal_for(u) for u in sorted(corpus.users)]
            answer_ms: list[float] = []
            retrieve_ms: list[float] = []
            steps: dict[str, list[float]] = {}
            statuses: Counter[str] = Counter()
            for i, question in enumerate(asked):
                principal = principals[i % len(principals)]
                t = time.perf_counter()
                baseline.retrieve(
                    RetrievalRequest(query=question, principal=principal, top_k=TOP_K)
                )
                retrieved = (time.perf_counter() - t) * 1000
                t = time.perf_counter()
                answer = service.answer(question, principal=principal)
                answered = (time.perf_counter() - t) * 1000
                if i >= _WARMUP:
                    retrieve_ms.append(retrieved)
                    answer_ms.append(answered)
                    statuses[answer.status] += 1
                    for step, ms in answer.timings_ms.items():
                        steps.setdefault(step, []).append(ms)
        finally:
            index.close()
    return {
        "chunks": len(corpus.chunks),
        "questions": len(answer_ms),
        "answer_ms": percentiles(answer_ms),
        "retrieve_ms": percentiles(retrieve_ms),
        "steps_ms": {step: percentiles(ms) for step, ms in steps.items()},
        "statuses": dict(statuses),
        "sentence_vectors": precomputed,
        "reader": reader.model_id if reader is not None else None,
        "reader_cost": reader_cost(reader, data) if reader is not None else None,
    }


def reader_cost(reader: Reader, data: Path, *, questions: int = 60) -> dict[str, object]:
    """The reader's time per decision and per pair, on the batches one decision reads: the
    first `reader_sentences` sentences of a CLAP NQ passage with its question, and the passage
    itself (as many passages as sentences: the most one decision reads)."""
    size = AgentSettings().reader_sentences
    rows = load_clapnq(data / "clapnq")[: questions + _WARMUP]
    sentence_ms: list[float] = []
    passage_ms: list[float] = []
    cpu_ms: list[float] = []  # CPU time of the sentence batch (all threads): load-independent
    for i, row in enumerate(rows):
        units = [u for u in re.split(r"(?<=[.!?])\s+", row.passage) if u][:size]
        units += [units[-1]] * (size - len(units))
        t, c = time.perf_counter(), time.process_time()
        reader.score(row.question, units, max_tokens=SENTENCE_TOKENS)
        sentences, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
        t = time.perf_counter()
        reader.score(row.question, [row.passage] * size, max_tokens=PASSAGE_TOKENS)
        passages = (time.perf_counter() - t) * 1000
        if i >= _WARMUP:
            sentence_ms.append(sentences)
            passage_ms.append(passages)
            cpu_ms.append(cpu)
    per = percentiles(sentence_ms)
    whole = percentiles([a + b for a, b in zip(sentence_ms, passage_ms, strict=True)])
    return {
        "batch": size,
        "calls": len(sentence_ms),
        "sentences_batch_ms": per,
        "passages_batch_ms": percentiles(passage_ms),
        "decision_ms": whole,
        "sentences_batch_cpu_ms": percentiles(cpu_ms),
        "ms_per_sentence_pair_p50": round(per["p50"] / size, 2),
        "ms_per_passage_pair_p50": round(percentiles(passage_ms)["p50"] / size, 2),
    }


def bench_rows(
    data: Path, *, quick: bool = False
) -> tuple[list[tuple[str, ...]], dict[str, object]]:
    """`evals.bench`'s row: answer p50/p95 against retrieval alone."""
    result = run(data, questions=50 if quick else 200)
    answer, retrieve = result["answer_ms"], result["retrieve_ms"]
    assert isinstance(answer, dict) and isinstance(retrieve, dict)
    ratio = answer["p95"] / retrieve["p95"] if retrieve["p95"] else 0.0
    row = (
        f"extractive answer, {result['chunks']} chunks, p50/p95 (ms)",
        f"{answer['p50']:.1f} / {answer['p95']:.1f}",
        f"retrieval alone: {retrieve['p50']:.1f} / {retrieve['p95']:.1f}",
        f"{ratio:.2f}× (p95)",
    )
    return [row], result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench.answers", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--reader-kind", choices=["onnx", "cross_encoder", "none"], default=None)
    parser.add_argument("--reader-path", type=Path, default=None)
    parser.add_argument(
        "--reader-cost-only", action="store_true", help="time only the reader's batches"
    )
    args = parser.parse_args(argv)
    reader_settings = ReaderSettings(kind=args.reader_kind, model_path=args.reader_path)
    if args.reader_cost_only:
        reader = shared_reader(reader_settings)
        if reader is None:
            parser.error("--reader-cost-only needs a reader")
        print(json.dumps(reader_cost(reader, args.data), indent=2))
        return 0
    result = run(
        args.data, size=args.size, questions=args.questions, reader_settings=reader_settings
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
