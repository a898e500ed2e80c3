"""`make bench`: one table, every row next to a baseline measured in the same run.

Rows: ingest throughput vs raw embedding of the same chunks; an unchanged re-sync vs the full
sync; retrieval latency (query embedding + filtered hybrid search + re-check) at 10k and 100k
chunks vs llama-index's QdrantVectorStore over qdrant-client local mode; principal expansion +
filter compilation vs Casbin's plain enforce(); extractive answer latency, masking overhead,
chat API throughput, the state prune and the CLI's start (`proofdesk --help` and `api-key` vs
`python -c pass`) where their benchmarks exist. A ratio is "ours /
baseline" for times and "ours / baseline" for throughputs, so read it with the unit.

    python -m evals.bench --data ../shared/data [--quick]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from evals.reporting import SuiteReport, print_report, write_report

__all__ = ["Row", "main", "run"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

Row = tuple[str, str, str, str]  # what, ours, baseline (what and value), ratio


def _ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}×" if baseline else "-"


def _ingest_rows(data: Path, quick: bool) -> tuple[list[Row], dict[str, object]]:
    from evals.bench import ingest as ingest_bench

    result = ingest_bench.run(data, limit=300 if quick else 2000)
    ingest = float(result["ingest_chunks_per_s"])
    raw = float(result["raw_embedding_chunks_per_s"])
    rerun = float(result["rerun_seconds"])
    embedding_s = float(result["raw_embedding_seconds"]) + float(
        result["raw_sentence_embedding_seconds"]
    )
    everything = int(str(result["chunks"])) / embedding_s if embedding_s else 0.0
    full = float(result["ingest_seconds"])
    rows: list[Row] = [
        (
            f"ingest, {result['chunks']} chunks (chunks/s)",
            f"{ingest:.1f}",
            f"raw embedding: {raw:.1f}",
            _ratio(ingest, raw),
        ),
        (
            "ingest vs embedding all it embeds: chunks + sentence units (chunks/s)",
            f"{ingest:.1f}",
            f"raw embedding of chunks and sentences: {everything:.1f}",
            _ratio(ingest, everything),
        ),
        (
            "unchanged re-sync (s)",
            f"{rerun:.2f}",
            f"full sync: {full:.1f}",
            _ratio(rerun, full),
        ),
    ]
    return rows, result


def _retrieval_rows(data: Path, quick: bool) -> tuple[list[Row], dict[str, object]]:
    from evals.bench import retrieval as retrieval_bench

    sizes = (10_000,) if quick else (10_000, 100_000)
    result = retrieval_bench.run(
        data,
        sizes=sizes,
        queries=100 if quick else 300,
        baseline_queries=(10,) if quick else (30, 8),
    )
    rows: list[Row] = []
    scales = result["scales"]
    assert isinstance(scales, Mapping)
    for size, scale in scales.items():
        edge, base = scale["edge"]["total_ms"], scale["baseline"]
        share = scale["visible_share"]["mean"]
        label = f"retrieval @{int(size) // 1000}k chunks, {share:.0%} visible (ms p50/p95)"
        if base is None:
            rows.append((label, f"{edge['p50']:.1f} / {edge['p95']:.1f}", "-", "-"))
            continue
        theirs, their_search = base["total_ms"], base["search_ms"]
        ours_search = scale["edge"]["filtered_ms"]
        rows.append(
            (
                label,
                f"{edge['p50']:.1f} / {edge['p95']:.1f}",
                f"llama-index + qdrant local: {theirs['p50']:.0f} / {theirs['p95']:.0f}"
                f" (n={theirs['n']})",
                _ratio(edge["p50"], theirs["p50"]),
            )
        )
        rows.append(
            (
                f"  of which search + re-check @{int(size) // 1000}k (ms p50/p95)",
                f"{ours_search['p50']:.1f} / {ours_search['p95']:.1f}",
                f"store.query: {their_search['p50']:.0f} / {their_search['p95']:.0f}",
                _ratio(ours_search["p50"], their_search["p50"]),
            )
        )
        acorn = scale["edge_acorn"]
        rows.append(
            (
                f"  with store.acorn (10,000 KB threshold) @{int(size) // 1000}k (ms p50/p95)",
                f"{acorn['total_ms']['p50']:.1f} / {acorn['total_ms']['p95']:.1f}",
                "top-k agreement with the exact scan: "
                f"{acorn['top_k_agreement_with_exact_scan']:.3f}",
                _ratio(acorn["total_ms"]["p50"], theirs["p50"]),
            )
        )
    return rows, result


def _policy_rows(quick: bool) -> tuple[list[Row], dict[str, object]]:
    from evals.bench import policy as policy_bench

    result = policy_bench.run(requests=5_000 if quick else 20_000)
    ours = result["expand_and_compile_ms"]
    ref = result["reference_enforce_ms"]
    assert isinstance(ours, Mapping) and isinstance(ref, Mapping)
    return [
        (
            f"principal + filter, {result['policy_lines']} lines (ms p95)",
            f"{ours['p95']:.3f}",
            f"one Casbin enforce(): {ref['p95']:.1f}",
            _ratio(float(ours["p95"]), float(ref["p95"])),
        )
    ], result


def _optional_rows(name: str, data: Path, quick: bool) -> tuple[list[Row], dict[str, object]]:
    """A benchmark module written with its feature: `bench_rows(data, quick=) -> (rows, raw)`."""
    try:
        module = importlib.import_module(f"evals.bench.{name}")
    except ModuleNotFoundError:
        return [], {}
    rows_of = getattr(module, "bench_rows", None)
    if rows_of is None:
        return [], {}
    rows, raw = rows_of(data, quick=quick)
    return [tuple(map(str, r)) for r in rows], dict(raw)  # type: ignore[misc]


_LATER = {
    "answers": "extractive answer latency",
    "masking": "masking overhead",
    "api": "chat API throughput",
    "audit_page": "audit review page render",
    "prune": "state prune",
    "cli": "CLI start (--help, api-key)",
}


def run(data: Path, *, quick: bool = False) -> SuiteReport:
    rows: list[Row] = []
    raw: dict[str, object] = {}
    parts: list[tuple[str, Callable[[], tuple[list[Row], dict[str, object]]]]] = [
        ("ingest", lambda: _ingest_rows(data, quick)),
        ("retrieval", lambda: _retrieval_rows(data, quick)),
        ("policy", lambda: _policy_rows(quick)),
    ]
    for name, part in parts:
        part_rows, raw[name] = part()
        rows += part_rows
    for module, label in _LATER.items():
        part_rows, result = _optional_rows(module, data, quick)
        if part_rows:
            rows += part_rows
            raw[module] = result
        else:
            rows.append((label, "NOT MEASURED (module or bench_rows missing)", "-", "-"))
    command = "python -m evals.bench --data " + str(data) + (" --quick" if quick else "")
    return SuiteReport(
        suite="bench",
        title="Proofdesk benchmarks (each row against a baseline from the same run)",
        columns=["what", "ours", "baseline (same run)", "ours / baseline"],
        rows=[list(r) for r in rows],
        metrics=raw,
        notes=[
            "2-core machine shared with other jobs: absolute numbers are noisy, ratios are "
            "what the table is for",
        ],
        command=command,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--quick", action="store_true", help="a small CI-sized run (10k only)")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--json", action="store_true", help="also print the raw results")
    args = parser.parse_args(argv)
    report = run(args.data, quick=args.quick)
    print_report(report)
    write_report(report, args.out)
    if args.json:
        json.dump(report.metrics, sys.stdout, indent=2, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
