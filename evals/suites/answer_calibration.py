"""Calibrating the answer decision on CLAP NQ dev: the reader combined with the confidence.

Every question asked gives a `Scored` row: whether it should be answered (answerable, and its
verified sentences cite its own passage), the best verified sentence's confidence and the
reader's best probability. From those rows:
- `auc`: ROC AUC of answerable-with-own-passage vs unanswerable for each signal (the issue's
  comparison with the cosine);
- `fit_combination`: the logistic combination (a, b, c, d) of `agent.reader_calibration`,
  P = sigmoid(a + b × confidence + c × logit(best sentence) + d × logit(best passage)), fitted
  by Newton's method (a small L2 penalty on the weights; d = 0 when passages were not read):
  three or four numbers, a calibration, not a model trained on the dev rows;
- `combination_cv`: 5 folds by question (10 shuffles with fixed seeds): the combination is
  fitted and the threshold chosen (the one that refuses the most unanswerable questions while
  answering at least 90% of the answerable ones citing their passage) on four folds, both
  applied to the fifth; the out-of-fold rates are what to expect on unseen questions;
- `profile_rates`: each `agent.profile`'s answerable-answered and unanswerable-not-answered
  rates at its thresholds.

A question with no verified sentence is refused whatever the thresholds (score 0).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agent.settings import AgentSettings
from agent.verification import combined_probability

__all__ = [
    "Scored",
    "auc",
    "combination_cv",
    "fit_combination",
    "profile_rates",
    "reader_metrics",
]

_TARGET = 0.90
_GRID = tuple(step / 100 for step in range(1, 100))
Weights = tuple[float, float, float, float]


@dataclass(frozen=True)
class Scored:
    answerable: bool
    positive: bool  # answerable and its verified sentences cite its own passage
    confidence: float | None  # None: no verified sentence
    reader: float | None  # best sentence; None: not read (no verified sentence, or no reader)
    passage: float | None = None  # best passage; None: passages not read


def auc(rows: Sequence[Scored], score: Callable[[Scored], float]) -> float | None:
    """ROC AUC of answerable-with-own-passage (positives) vs unanswerable questions."""
    positives = [score(r) for r in rows if r.positive]
    negatives = [score(r) for r in rows if not r.answerable]
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return round(wins / (len(positives) * len(negatives)), 4)


def _logit(p: float | None) -> float:
    if p is None:
        return 0.0
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _features(rows: Sequence[Scored]) -> tuple[np.ndarray, np.ndarray]:
    usable = [r for r in rows if r.confidence is not None and r.reader is not None]
    x = np.array(
        [[1.0, r.confidence or 0.0, _logit(r.reader), _logit(r.passage)] for r in usable]
    ).reshape(len(usable), 4)
    y = np.array([1.0 if r.positive else 0.0 for r in usable])
    return x, y


def fit_combination(rows: Sequence[Scored], *, penalty: float = 1e-2) -> Weights:
    """(a, b, c, d) of the logistic combination, fitted by Newton's method on `rows` (d = 0
    when no passage was read)."""
    x, y = _features(rows)
    if len(y) == 0 or y.min() == y.max():
        return (0.0, 0.0, 0.0, 0.0)
    used = 4 if bool(np.any(x[:, 3] != 0.0)) else 3
    x = x[:, :used]
    w = np.zeros(used)
    ridge = np.diag([0.0] + [penalty] * (used - 1))
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
        gradient = x.T @ (p - y) + ridge @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge + 1e-9 * np.eye(used)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    full = [*(round(float(v), 3) for v in w), 0.0][:4]
    return (full[0], full[1], full[2], full[3])


def _probability(row: Scored, weights: Weights) -> float:
    if row.confidence is None or row.reader is None:
        return 0.0
    return combined_probability(row.confidence, row.reader, row.passage, weights)


def _rates(
    rows: Sequence[Scored], scores: Sequence[float], threshold: float
) -> tuple[float, float]:
    yes = [(r, s) for r, s in zip(rows, scores, strict=True) if r.answerable]
    no = [s for r, s in zip(rows, scores, strict=True) if not r.answerable]
    own = sum(s >= threshold and r.positive for r, s in yes) / max(len(yes), 1)
    refused = sum(s < threshold for s in no) / max(len(no), 1)
    return own, refused


def _choose(rows: Sequence[Scored], scores: Sequence[float]) -> float:
    meeting = [t for t in _GRID if _rates(rows, scores, t)[0] >= _TARGET]
    if not meeting:
        return _GRID[0]
    return max(meeting, key=lambda t: (_rates(rows, scores, t)[1], -t))


def combination_cv(
    rows: Sequence[Scored], *, folds: int = 5, repeats: int = 10
) -> dict[str, object] | None:
    """Out-of-fold rates of the combination fitted, and its threshold chosen, on other folds."""
    if len(rows) < folds:
        return None
    own_hits = refused_hits = answerable = unanswerable = 0
    chosen: list[float] = []
    for seed in range(repeats):
        order = list(rows)
        random.Random(seed).shuffle(order)  # noqa: S311 - reproducible folds, not security
        for k in range(folds):
            test = order[k::folds]
            train = [r for i, r in enumerate(order) if i % folds != k]
            weights = fit_combination(train)
            threshold = _choose(train, [_probability(r, weights) for r in train])
            chosen.append(threshold)
            for r in test:
                p = _probability(r, weights)
                if r.answerable:
                    answerable += 1
                    own_hits += p >= threshold and r.positive
                else:
                    unanswerable += 1
                    refused_hits += p < threshold
    return {
        "folds": folds,
        "repeats": repeats,
        "target_answerable": _TARGET,
        "answerable_answered_own": round(own_hits / max(answerable, 1), 4),
        "unanswerable_not_answered": round(refused_hits / max(unanswerable, 1), 4),
        "threshold_mean": round(statistics.fmean(chosen), 3),
        "threshold_min": min(chosen),
        "threshold_max": max(chosen),
    }


def profile_rates(
    rows: Sequence[Scored], scores: Sequence[float], settings: AgentSettings, *, calibrated: bool
) -> dict[str, dict[str, float]]:
    """Each profile's answerable-answered (citing own passage) and unanswerable-not-answered
    rates at its answer threshold (a question below it is refused or handed over)."""
    out: dict[str, dict[str, float]] = {}
    for profile in ("balanced", "cautious"):
        _, answer_at = settings.model_copy(update={"profile": profile}).thresholds(
            calibrated=calibrated
        )
        own, refused = _rates(rows, scores, answer_at)
        out[profile] = {
            "answer_threshold": answer_at,
            "answerable_answered_own": round(own, 4),
            "unanswerable_not_answered": round(refused, 4),
        }
    return out


def reader_metrics(rows: Sequence[Scored], settings: AgentSettings) -> dict[str, object]:
    """AUCs, the combination fitted on all rows (the default's source) and its CV figures."""
    with_reader = [r for r in rows if r.reader is not None]
    weights = fit_combination(rows)
    return {
        "read": len(with_reader),
        "auc": {
            "confidence": auc(rows, lambda r: r.confidence or 0.0),
            "reader_sentence": auc(rows, lambda r: r.reader or 0.0),
            "reader_passage": auc(rows, lambda r: r.passage or 0.0)
            if any(r.passage is not None for r in rows)
            else None,
            "combined_fitted": auc(rows, lambda r: _probability(r, weights)),
            "combined_settings": auc(rows, lambda r: _probability(r, settings.reader_calibration)),
        },
        "fitted_calibration": list(weights),
        "settings_calibration": list(settings.reader_calibration),
        "combination_cv": combination_cv(rows) if with_reader else None,
    }
