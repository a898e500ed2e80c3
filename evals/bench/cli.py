"""Benchmark: how long `proofdesk --help` and `proofdesk api-key` take to answer, against the
interpreter's own start (`python -c pass`) measured in the same run.

Each command runs as a fresh process (`python -m api.cli ...`, what the `proofdesk` script
runs), `--runs` times, interleaved with the baseline so that load on the machine hits both
alike. Reported: wall-clock p50/p95 and the median CPU time (user + system) of the process.

    python -m evals.bench.cli [--runs 15] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["bench_rows", "main", "run"]

REPO = Path(__file__).resolve().parents[2]
COMMANDS: Mapping[str, tuple[str, ...]] = {
    "python -c pass": ("-c", "pass"),
    "proofdesk --help": ("-m", "api.cli", "--help"),
    "proofdesk api-key": ("-m", "api.cli", "api-key", "--id", "bench"),
}


def _once(args: Sequence[str], env: Mapping[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [sys.executable, *args]  # fixed commands: this interpreter and the CLI module
    subprocess.run(command, cwd=REPO, env=dict(env), capture_output=True, check=True)  # noqa: S603
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(*, runs: int = 15) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "proofdesk.yaml"
        config.write_text("log_level: WARNING\n", encoding="utf-8")
        env = {**os.environ, "PROOFDESK_CONFIG": str(config), "HF_HUB_OFFLINE": "1"}
        for args in COMMANDS.values():  # warm the file cache and the bytecode
            _once(args, env)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
        for _ in range(runs):
            for name, args in COMMANDS.items():
                samples[name].append(_once(args, env))
    result: dict[str, object] = {"runs": runs}
    for name, values in samples.items():
        walls = [w for w, _ in values]
        result[name] = {
            "wall_s": {"p50": statistics.median(walls), "p95": _p95(walls)},
            "cpu_s": {"p50": statistics.median(c for _, c in values)},
        }
    return result


def bench_rows(_data: Path, *, quick: bool = False) -> tuple[list[list[str]], dict[str, object]]:
    result = run(runs=5 if quick else 15)
    base = result["python -c pass"]
    assert isinstance(base, Mapping)
    rows: list[list[str]] = []
    for name in ("proofdesk --help", "proofdesk api-key"):
        ours = result[name]
        assert isinstance(ours, Mapping)
        wall, base_wall = ours["wall_s"], base["wall_s"]
        rows.append(
            [
                f"{name}: start to exit (s p50/p95; CPU p50)",
                f"{wall['p50']:.2f} / {wall['p95']:.2f}; CPU {ours['cpu_s']['p50']:.2f}",
                f"python -c pass: {base_wall['p50']:.2f} / {base_wall['p95']:.2f}; "
                f"CPU {base['cpu_s']['p50']:.2f}",
                f"{wall['p50'] / base_wall['p50']:.1f}×" if base_wall["p50"] else "-",
            ]
        )
    return rows, result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=None, help="write bench_cli.json here")
    args = parser.parse_args(argv)
    result = run(runs=args.runs)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_cli.json").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
