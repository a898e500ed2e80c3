"""Precision and recall of the prompt-injection screen on labelled prompts.

Accepted inputs (a file, or a directory whose *.csv / *.jsonl files are all read):
- CSV with columns `text,label` (label 1 = injection), e.g. deepset prompt-injections;
- JSONL whose rows carry an `attack` field (Tensor Trust hijacking / extraction): every row is
  an injection, so only recall is meaningful there.

    python -m evals.suites.injection_screen PATH [--threshold 0.5] [--show-errors N]
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypedDict

from policies.injection import InjectionScreen

__all__ = ["ScreenReport", "evaluate", "load_examples", "main"]


class ScreenReport(TypedDict):
    examples: int
    positives: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float
    false_positive_rate: float


def load_examples(path: Path) -> Iterator[tuple[str, bool]]:
    """(text, is_injection) pairs from a CSV, a JSONL file or a directory of them."""
    files = sorted([*path.glob("*.csv"), *path.glob("*.jsonl")]) if path.is_dir() else [path]
    for file in files:
        if file.suffix == ".csv":
            with file.open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    yield row["text"], row["label"].strip() == "1"
        else:
            with file.open(encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        record = json.loads(line)
                        if "attack" in record:
                            yield str(record["attack"]), True


def evaluate(
    examples: Sequence[tuple[str, bool]], screen: InjectionScreen
) -> tuple[ScreenReport, list[tuple[str, bool]]]:
    """The report, and the misclassified examples (text, expected)."""
    tp = fp = fn = 0
    errors: list[tuple[str, bool]] = []
    for text, expected in examples:
        flagged = screen.assess(text).suspected
        tp += flagged and expected
        fp += flagged and not expected
        fn += expected and not flagged
        if flagged != expected:
            errors.append((text, expected))
    negatives = len(examples) - (tp + fn)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    report: ScreenReport = {
        "examples": len(examples),
        "positives": tp + fn,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positive_rate": fp / negatives if negatives else 0.0,
    }
    return report, errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.suites.injection_screen")
    parser.add_argument("path", type=Path, help="CSV/JSONL file or a directory of them")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--show-errors", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    examples = list(load_examples(args.path))
    report, errors = evaluate(examples, InjectionScreen(threshold=args.threshold))
    print(
        f"{report['examples']} examples, {report['positives']} injections\n"
        f"precision {report['precision']:.3f}  recall {report['recall']:.3f}  "
        f"F1 {report['f1']:.3f}  false-positive rate {report['false_positive_rate']:.3f}\n"
        f"TP {report['true_positives']}  FP {report['false_positives']}  "
        f"FN {report['false_negatives']}"
    )
    for text, expected in errors[: args.show_errors]:
        print(f"  [{'missed' if expected else 'false flag'}] {text[:160]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
