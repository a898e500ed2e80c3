"""Retrieval latency at 10k and 100k chunks with realistic access lists, against the stock stack.

What is timed, per query, through `RetrievalService` on Qdrant Edge (after `optimize()`, so the
dense vectors are in an HNSW graph): query embedding (the cache is off) + permission-filtered
hybrid search (dense + BM25, RRF) + the per-chunk Casbin re-check; top 8, as the API asks. Next
to it, in the same run and on the same points, payloads, filter and queries: llama-index's stock
`QdrantVectorStore` over qdrant-client local mode (hybrid with the same BM25 encoder plugged into
its sparse hooks, its own relative-score fusion), query embedding included.

The corpus: every SciFact chunk as the real ingest pipeline cuts and embeds it (13,051 chunks of
5,183 abstracts; taken from the retrieval eval's cached index and its embedding cache, which are
built first if missing). The rest up to the target size is synthesised: a real chunk's vector
plus Gaussian noise (σ = 0.025 per dimension, about 0.9 cosine to its source, re-normalised),
and as text a random run of 2–7 of its source's sentences, under the source's title.
Access lists come from 300 groups: one all-staff group, 20 departments and 279 teams nested in
them; a document (1–8 chunks) is readable by all staff (5%), one department (60%) or one to
three teams (35%), and 3% deny one team. Users hold all-staff, one department and two or three
teams (and so their teams' departments); the share of chunks each user may see is reported.

    python -m evals.bench.retrieval --data ../shared/data [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from evals.bench.baseline import TOP_K, baseline_latency, percentiles
from evals.corpus_files import read_jsonl
from evals.suites.retrieval import beir_workdir, default_cache_dir, open_beir_index
from ingest.chunking import Chunker
from ingest.parsing import parse_document
from ingest.state import StateStore, create_state_engine, embedding_key
from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.filters import AccessFilter
from policies.access.principal import Principal
from policies.access.settings import PolicySettings
from retrieval.edge_store import EdgeStore
from retrieval.embedding.embedder import Embedder, load_embedder
from retrieval.records import ChunkRecord, chunk_id_for
from retrieval.service import RetrievalRequest, RetrievalService, RetrievalSettings
from retrieval.store import VectorStore

__all__ = ["Corpus", "build_corpus", "percentiles", "run", "run_scale"]

Matrix = npt.NDArray[np.float32]
_Text = tuple[str, tuple[str, ...], str]  # title, heading path, chunk text
NOISE_SIGMA = 0.025
ACORN_FULL_SCAN_THRESHOLD_KB = 10_000  # the engine's default: larger filtered sets walk the graph

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_DEPTS, _TEAMS = 20, 279


@dataclass
class Corpus:
    chunks: list[ChunkRecord]
    vectors: Matrix
    real: int  # how many chunks are real texts with their own embeddings
    users: dict[str, tuple[str, ...]]  # user id -> groups
    policy_lines: list[str]


def real_chunks(data: Path, embedder: Embedder, cache: Path) -> tuple[list[_Text], Matrix]:
    """Every SciFact chunk as ingestion cuts it, with the vector ingestion gave it.

    The retrieval eval's cached index of the corpus is built first if missing (real pipeline);
    its Markdown files are chunked again (cheap) and each chunk's vector is read from that
    index's embedding cache, so nothing is embedded twice.
    """
    corpus = data / "scifact" / "corpus.jsonl"
    index, _ = open_beir_index(corpus, cache_dir=cache, embedder=embedder)
    index.close()
    workdir = beir_workdir(corpus, cache_dir=cache, embedder=embedder)
    chunker = Chunker(tokens=embedder)
    texts: list[_Text] = []
    embed_texts: list[str] = []
    for path in sorted((workdir / "corpus").glob("*.md")):
        parsed = parse_document(path.read_bytes(), "md", fallback_title=path.stem)
        for draft in chunker.chunk(parsed):
            texts.append((parsed.title, draft.heading_path, draft.text))
            embed_texts.append(draft.embed_text)
    engine = create_state_engine(f"sqlite:///{workdir / 'state.db'}")
    keys = [embedding_key(embedder.model_id, t) for t in embed_texts]
    cached = StateStore(engine=engine).cached_embeddings(keys)
    engine.dispose()
    missing = [i for i, key in enumerate(keys) if key not in cached]
    if missing:  # the cache key scheme changed, or the index is partial: embed what is missing
        fresh = embedder.embed_documents([embed_texts[i] for i in missing])
        cached.update({keys[i]: fresh[n] for n, i in enumerate(missing)})
    return texts, np.stack([cached[key] for key in keys]).astype(np.float32)


def _acl(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    roll = rng.random()
    if roll < 0.05:
        read = ["group:all-staff"]
    elif roll < 0.65:
        read = [f"group:dept-{rng.integers(_DEPTS):02d}"]
    else:
        read = [
            f"group:team-{t:03d}" for t in rng.choice(_TEAMS, rng.integers(1, 4), replace=False)
        ]
    deny = [f"group:team-{rng.integers(_TEAMS):03d}"] if rng.random() < 0.03 else []
    return read, deny


def build_corpus(
    texts: Sequence[_Text], vectors: Matrix, size: int, *, users: int = 50, seed: int = 5
) -> Corpus:
    """`size` chunks: the real ones first, then synthesised ones (see the module docstring)."""
    rng = np.random.default_rng(seed)
    team_dept = [int(t % _DEPTS) for t in range(_TEAMS)]
    real = min(size, len(texts))
    chunks: list[ChunkRecord] = []
    rows = np.empty((size, vectors.shape[1]), dtype=np.float32)
    doc = 0
    while len(chunks) < size:
        read, deny = _acl(rng)
        n = 1 if len(chunks) < real else int(rng.integers(1, 9))
        for ordinal in range(min(n, size - len(chunks))):
            i = len(chunks)
            source = i if i < real else int(rng.integers(real))
            title, headings, text = texts[source]
            vector = vectors[source]
            if i >= real:
                sentences = _SENTENCE.split(text)
                start = int(rng.integers(len(sentences)))
                text = " ".join(sentences[start : start + int(rng.integers(2, 8))])
                vector = vector + rng.normal(0.0, NOISE_SIGMA, vector.shape).astype(np.float32)
                vector /= np.linalg.norm(vector)
            rows[i] = vector
            digest = hashlib.sha256(text.encode()).hexdigest()
            doc_id = f"bench:doc-{doc}"
            chunks.append(
                ChunkRecord(
                    chunk_id=chunk_id_for(doc_id, ordinal, digest),
                    document_id=doc_id,
                    source_id="bench",
                    title=title,
                    heading_path=headings,
                    uri=f"bench://doc-{doc}",
                    start=0,
                    end=len(text),
                    text=text,
                    content_hash=digest,
                    document_version=digest[:16],
                    read=tuple(read),
                    deny=tuple(deny),
                    doc_type="md",
                    ordinal=ordinal,
                )
            )
        doc += 1
    lines = ["p, public, source:*, read, allow"]
    lines += [f"g, group:dept-{d:02d}, group:all-staff" for d in range(_DEPTS)]
    lines += [f"g, group:team-{t:03d}, group:dept-{team_dept[t]:02d}" for t in range(_TEAMS)]
    members: dict[str, tuple[str, ...]] = {}
    for u in range(users):
        groups = [f"dept-{rng.integers(_DEPTS):02d}"]
        groups += [f"team-{t:03d}" for t in rng.choice(_TEAMS, rng.integers(2, 4), replace=False)]
        members[f"u{u:03d}"] = ("all-staff", *groups)
        lines += [f"g, user:u{u:03d}, group:{g}" for g in members[f"u{u:03d}"]]
    return Corpus(chunks, rows, real, members, lines)


def load_edge_index(corpus: Corpus, store: VectorStore) -> float:
    """Write the corpus into `store`; returns the seconds it took (`optimize()` is the
    caller's, which times it apart)."""
    t0 = time.perf_counter()
    for start in range(0, len(corpus.chunks), 2000):
        end = start + 2000
        store.upsert(corpus.chunks[start:end], corpus.vectors[start:end].tolist())
    return time.perf_counter() - t0


def _visible_share(corpus: Corpus, access: AccessFilter) -> float:
    seen = sum(
        access.admits(source_id=c.source_id, read=c.read, deny=c.deny) for c in corpus.chunks
    )
    return seen / len(corpus.chunks)


def _edge_latency(
    tmp: Path,
    corpus: Corpus,
    embedder: Embedder,
    policy: CasbinPolicyEngine,
    queries: Sequence[str],
    *,
    acorn: bool = False,
    top_ids: list[list[str]] | None = None,
) -> dict[str, object]:
    """Latency through `RetrievalService`; with `acorn`, the index is created with the
    engine's default full-scan threshold (10,000 KB) and filtered graph searches use ACORN.
    `top_ids` receives each timed query's top-k chunk ids."""
    store = (
        EdgeStore(
            path=tmp / "edge-acorn",
            dimension=embedder.dimension,
            acorn=True,
            full_scan_threshold_kb=ACORN_FULL_SCAN_THRESHOLD_KB,
        )
        if acorn
        else EdgeStore(path=tmp / "edge", dimension=embedder.dimension)
    )
    load_s = load_edge_index(corpus, store)
    t0 = time.perf_counter()
    store.optimize()
    optimize_s = time.perf_counter() - t0
    stats = store.stats()
    service = RetrievalService(
        store=store,
        embedder=embedder,
        policy=policy,
        settings=RetrievalSettings(query_cache_size=0),
    )
    users = sorted(corpus.users)
    principals = [policy.principal_for(u) for u in users]
    total: list[float] = []
    parts: dict[str, list[float]] = {"embed": [], "search": [], "recheck": [], "filtered": []}
    for i, query in enumerate([*queries[:10], *queries]):  # the first ten warm up
        principal = principals[i % len(principals)]
        t = time.perf_counter()
        result = service.retrieve(RetrievalRequest(query=query, principal=principal, top_k=TOP_K))
        if i >= 10:
            total.append((time.perf_counter() - t) * 1000)
            if top_ids is not None:
                top_ids.append([c.hit.chunk.chunk_id for c in result.chunks])
            for key, value in result.timings_ms.items():
                parts[key].append(value)
            parts["filtered"].append(result.timings_ms["search"] + result.timings_ms["recheck"])
    hnsw = _dense_top10(store, service, principals, queries[:50], policy)
    store.close()
    exact_store = EdgeStore(
        path=tmp / ("edge-acorn" if acorn else "edge"), dimension=embedder.dimension, exact=True
    )
    exact = _dense_top10(exact_store, service, principals, queries[:50], policy)
    exact_store.close()
    recall = sum(len(a & b) / max(1, len(b)) for a, b in zip(hnsw, exact, strict=True))
    return {
        "load_s": round(load_s, 1),
        "optimize_s": round(optimize_s, 1),
        "points": stats.points,
        "hnsw_built": stats.indexed_vectors > stats.points,  # sparse vectors always count
        "total_ms": percentiles(total),
        **{f"{k}_ms": percentiles(v) for k, v in parts.items()},
        "dense_hnsw_recall@10": round(recall / max(1, len(exact)), 4),
    }


def _agreement(ours: Sequence[Sequence[str]], reference: Sequence[Sequence[str]]) -> float:
    """Mean share of each query's reference top-k that `ours` also returned."""
    shares = [
        len(set(a) & set(b)) / len(b) for a, b in zip(ours, reference, strict=True) if len(b) > 0
    ]
    return round(sum(shares) / max(1, len(shares)), 4)


def _dense_top10(
    store: EdgeStore,
    service: RetrievalService,
    principals: Sequence[Principal],
    queries: Sequence[str],
    policy: CasbinPolicyEngine,
) -> list[set[str]]:
    """Filtered dense top-10 chunk ids per query (for HNSW recall against exact search)."""
    out = []
    for i, query in enumerate(queries):
        access = policy.access_filter(principals[i % len(principals)])
        vector = service.embed_query(query).tolist()
        hits = store.search(
            query_text=query, query_vector=vector, access=access, limit=10, mode="dense"
        )
        out.append({h.chunk.chunk_id for h in hits})
    return out


def run_scale(
    corpus: Corpus,
    embedder: Embedder,
    queries: Sequence[str],
    *,
    baseline_queries: int,
) -> dict[str, object]:
    """Edge through RetrievalService, then the baseline, on one corpus."""
    with tempfile.TemporaryDirectory(prefix="pd-bench-retrieval-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "policy.csv").write_text("\n".join(corpus.policy_lines) + "\n", encoding="utf-8")
        with CasbinPolicyEngine(settings=PolicySettings(policy_path=tmp / "policy.csv")) as policy:
            accesses = [policy.access_filter(policy.principal_for(u)) for u in sorted(corpus.users)]
            shares = [_visible_share(corpus, a) for a in accesses]
            exact_top: list[list[str]] = []
            edge = _edge_latency(tmp, corpus, embedder, policy, queries, top_ids=exact_top)
            acorn_top: list[list[str]] = []
            edge_acorn = _edge_latency(
                tmp, corpus, embedder, policy, queries, acorn=True, top_ids=acorn_top
            )
            edge_acorn["top_k_agreement_with_exact_scan"] = _agreement(acorn_top, exact_top)
        baseline = (
            baseline_latency(
                corpus.chunks, corpus.vectors, embedder, accesses, queries[:baseline_queries]
            )
            if baseline_queries > 0
            else None
        )
    result: dict[str, object] = {
        "chunks": len(corpus.chunks),
        "real_chunks": corpus.real,
        "visible_share": {
            "mean": round(float(np.mean(shares)), 4),
            "min": round(min(shares), 4),
            "max": round(max(shares), 4),
        },
        "edge": edge,
        "edge_acorn": edge_acorn,
        "baseline": baseline,
    }
    if baseline is not None:
        ours = edge["total_ms"]
        theirs = baseline["total_ms"]
        assert isinstance(ours, dict) and isinstance(theirs, dict)
        result["speedup_p50"] = round(theirs["p50"] / max(ours["p50"], 1e-6), 1)
        ours_search, their_search = edge["filtered_ms"], baseline["search_ms"]
        assert isinstance(ours_search, dict) and isinstance(their_search, dict)
        result["search_speedup_p50"] = round(their_search["p50"] / max(ours_search["p50"], 1e-6), 1)
    return result


def load_queries(data: Path, limit: int, *, seed: int = 3) -> list[str]:
    queries = [str(q["text"]) for q in read_jsonl(data / "scifact" / "queries.jsonl")]
    rng = np.random.default_rng(seed)
    return [queries[i] for i in rng.permutation(len(queries))[:limit]]


def run(
    data: Path,
    *,
    sizes: Sequence[int] = (10_000, 100_000),
    queries: int = 300,
    baseline_queries: Sequence[int] = (30, 8),
    embedder: Embedder | None = None,
    cache_dir: Path | None = None,
) -> dict[str, object]:
    """One result per corpus size (the smaller corpora are prefixes of the largest)."""
    embedder = embedder or load_embedder()
    t0 = time.perf_counter()
    texts, vectors = real_chunks(data, embedder, cache_dir or default_cache_dir())
    real_s = time.perf_counter() - t0
    full = build_corpus(texts, vectors, max(sizes))
    asked = load_queries(data, queries)
    scales: dict[str, object] = {}
    for size, n_baseline in zip(sizes, [*baseline_queries, *[0] * len(sizes)], strict=False):
        corpus = Corpus(
            full.chunks[:size],
            full.vectors[:size],
            min(size, full.real),
            full.users,
            full.policy_lines,
        )
        scales[str(size)] = run_scale(corpus, embedder, asked, baseline_queries=n_baseline)
    return {
        "real_chunks": len(texts),
        "real_chunks_s": round(real_s, 1),
        "noise_sigma": NOISE_SIGMA,
        "queries": len(asked),
        "top_k": TOP_K,
        "scales": scales,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench.retrieval", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--baseline-queries", type=int, nargs="+", default=[30, 8])
    args = parser.parse_args(argv)
    result = run(
        args.data, sizes=args.sizes, queries=args.queries, baseline_queries=args.baseline_queries
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
