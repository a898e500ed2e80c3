"""`make bench`: `python -m evals.bench` runs `runner`, which puts every benchmark in one table.

One module per benchmark, each measured against a baseline in the same run; each also runs
alone (`python -m evals.bench.api --data ../shared/data`). `baseline` is the stock llama-index
+ qdrant-client stack the retrieval benchmark compares against.
"""

__all__ = [
    "answers",
    "api",
    "audit_page",
    "baseline",
    "cli",
    "ingest",
    "masking",
    "policy",
    "prune",
    "retrieval",
    "runner",
]
