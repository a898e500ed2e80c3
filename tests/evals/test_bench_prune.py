"""`evals.bench.prune` at a small size: it builds live and dead rows and the prune in its child
process removes exactly the dead ones (the figure `make bench` reports rests on this check)."""

from __future__ import annotations

from evals.bench.prune import run


def test_the_prune_benchmark_removes_exactly_the_dead_rows() -> None:
    result = run(300, dead=0.5)

    assert result["dead_rows_removed_exactly"] is True
    assert (result["chunks"], result["dead_chunks"], result["scrolled_chunks"]) == (300, 150, 300)
    prune = result["prune"]
    assert isinstance(prune, dict) and prune["tables"]["sentence_vectors"]["removed"] == 150
    assert float(str(result["rss_peak_mb"])) >= float(str(result["rss_after_open_mb"])) > 0
