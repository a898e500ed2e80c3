"""The answers suite's figures from its judged outcomes: rates with Wilson intervals, citation
precision and recall, the threshold sweep, the profiles, the reader's AUCs and the
cross-validated threshold estimate (`evals.suites.answers` describes each)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

from agent.settings import AgentSettings
from evals.reporting import wilson_interval
from evals.suites.answer_calibration import Scored, profile_rates, reader_metrics
from evals.suites.answer_judging import Outcome

__all__ = ["metrics"]


def _rate(hits: int, total: int) -> dict[str, float | int]:
    low, high = wilson_interval(hits, total)
    return {
        "rate": round(hits / total, 4) if total else 0.0,
        "n": total,
        "ci95_low": round(low, 4),
        "ci95_high": round(high, 4),
    }


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def metrics(
    outcomes: Sequence[Outcome],
    *,
    settings: AgentSettings,
    chunks: int,
    documents: int,
    index_seconds: float,
    ask_seconds: float,
) -> dict[str, object]:
    """Every figure of the suite over the judged `outcomes` (`settings`: the agent's, as run)."""
    yes = [o for o in outcomes if o.row.answerable]
    no = [o for o in outcomes if not o.row.answerable]

    def count(group: Sequence[Outcome], *statuses: str) -> int:
        return sum(o.answer.status in statuses for o in group)

    answered = [o for o in yes if o.answer.status == "answered"]
    verbatim = [flag for o in answered for flag in o.verbatim]
    reference = [flag for o in answered for flag in o.reference]
    gold_total = sum(len(o.row.selected) for o in answered)
    totals = [o.answer.timings_ms.get("total", 0.0) for o in outcomes]
    calibrated = any(o.reader is not None for o in outcomes)
    scored = [
        Scored(
            o.row.answerable,
            o.row.answerable and o.verified_own,
            o.confidence,
            o.reader,
            o.reader_passage,
        )
        for o in outcomes
    ]
    sweep = []
    # A calibrated probability is swept over 0.05..0.95, a confidence over 0.40..0.90.
    for step in range(5, 96, 5) if calibrated else range(40, 91, 2):
        threshold = step / 100
        sweep.append(
            {
                "answer_threshold": threshold,
                "answerable_answered_own": _share(
                    [o.score >= threshold and o.verified_own for o in yes]
                ),
                "unanswerable_refused": _share([o.score < threshold for o in no]),
            }
        )
    refused = ("refused_no_evidence", "refused_insufficient_support")
    return {
        "questions": {"answerable": len(yes), "unanswerable": len(no)},
        "corpus": {"documents": documents, "chunks": chunks},
        "answerable": {
            "answered": _rate(len(answered), len(yes)),
            "answered_citing_own_passage": _rate(sum(o.cites_own for o in answered), len(yes)),
            "escalated": _rate(count(yes, "escalated"), len(yes)),
            "refused": _rate(count(yes, *refused), len(yes)),
        },
        "unanswerable": {
            "refused": _rate(count(no, *refused), len(no)),
            "not_answered": _rate(len(no) - count(no, "answered"), len(no)),
            "escalated": _rate(count(no, "escalated"), len(no)),
            "answered": _rate(count(no, "answered"), len(no)),
        },
        "citations": {
            "count": len(verbatim),
            "per_answer": round(len(verbatim) / len(answered), 3) if answered else None,
            "precision_verbatim": _share(verbatim),
            "precision_reference": _share(reference),
            "recall_verbatim": _share(verbatim),
            "recall_reference": _share(reference),
            "gold_evidence_recall": round(sum(o.gold_found for o in answered) / gold_total, 4)
            if gold_total
            else None,
        },
        "latency_ms": {
            "p50": round(statistics.median(totals), 1) if totals else None,
            "p95": round(sorted(totals)[int(0.95 * (len(totals) - 1))], 1) if totals else None,
        },
        "settings": {
            "answer_threshold": settings.answer_threshold,
            "escalate_threshold": settings.escalate_threshold,
            "coverage_weight": settings.coverage_weight,
            "passage_coverage_weight": settings.passage_coverage_weight,
            "evidence_per_document": settings.evidence_per_document,
            "profile": settings.profile,
            "reader_calibration": list(settings.reader_calibration),
            "reader_thresholds": [
                settings.reader_escalate_threshold,
                settings.reader_answer_threshold,
                settings.reader_cautious_threshold,
            ],
        },
        "sweep": sweep,
        "threshold_cv": _threshold_cv(outcomes),
        "profiles": profile_rates(
            scored, [o.score for o in outcomes], settings, calibrated=calibrated
        ),
        "reader": reader_metrics(scored, settings) if calibrated else None,
        "per_question": [
            {
                "id": o.row.id,
                "answerable": o.row.answerable,
                "status": o.answer.status,
                "score": round(o.score, 4),
                "confidence": None if o.confidence is None else round(o.confidence, 4),
                "reader": None if o.reader is None else round(o.reader, 4),
                "reader_passage": None if o.reader_passage is None else round(o.reader_passage, 4),
                "cites_own": o.cites_own,
                "verified_own": o.verified_own,
                "citations": len(o.answer.citations),
            }
            for o in outcomes
        ],
        "seconds": {"index": round(index_seconds, 1), "questions": round(ask_seconds, 1)},
    }


_CV_TARGET = 0.90  # issue 4's answerable figure
_CV_GRID = tuple(step / 100 for step in range(121))


def _threshold_cv(
    outcomes: Sequence[Outcome], *, folds: int = 5, repeats: int = 10
) -> dict[str, float] | None:
    """Out-of-fold rates of an `answer_threshold` chosen on the other folds (module docstring)."""
    if len(outcomes) < folds:
        return None

    def rates(group: Sequence[Outcome], threshold: float) -> tuple[float, float]:
        yes = [o for o in group if o.row.answerable]
        no = [o for o in group if not o.row.answerable]
        own = sum(o.score >= threshold and o.verified_own for o in yes) / max(len(yes), 1)
        refused = sum(o.score < threshold for o in no) / max(len(no), 1)
        return own, refused

    def choose(train: Sequence[Outcome]) -> float:
        meeting = [t for t in _CV_GRID if rates(train, t)[0] >= _CV_TARGET]
        return max(meeting, key=lambda t: (rates(train, t)[1], -t)) if meeting else _CV_GRID[0]

    own_hits = refused_hits = answerable = unanswerable = 0
    chosen: list[float] = []
    for seed in range(repeats):
        order = list(outcomes)
        random.Random(seed).shuffle(order)  # noqa: S311 - reproducible folds, not security
        for k in range(folds):
            test = order[k::folds]
            train = [o for i, o in enumerate(order) if i % folds != k]
            threshold = choose(train)
            chosen.append(threshold)
            yes = [o for o in test if o.row.answerable]
            no = [o for o in test if not o.row.answerable]
            own_hits += sum(o.score >= threshold and o.verified_own for o in yes)
            refused_hits += sum(o.score < threshold for o in no)
            answerable += len(yes)
            unanswerable += len(no)
    return {
        "folds": folds,
        "repeats": repeats,
        "target_answerable": _CV_TARGET,
        "answerable_answered_own": round(own_hits / max(answerable, 1), 4),
        "unanswerable_refused": round(refused_hits / max(unanswerable, 1), 4),
        "threshold_mean": round(statistics.fmean(chosen), 3),
        "threshold_min": min(chosen),
        "threshold_max": max(chosen),
    }
