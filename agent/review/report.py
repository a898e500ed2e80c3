"""Citation audit reports: precision by source, week, model and prompt; reviewer agreement.

Definitions (the numbers a helpdesk lead takes to a meeting, so they are spelled out):

- A *judgment* is one reviewer's verdict on one citation, from that reviewer's latest review
  of the answer (earlier reviews stay in the history but do not count).
- Each verdict scores: supports 1, partially supports 0.5, does not support 0, irrelevant 0.
- **Citation precision** of a group is the mean score of its citations, where a citation's
  score is the mean over the reviewers who judged it: every citation weighs the same whether
  one or two people reviewed it. **Strict precision** counts only "supports" as 1.
- Citations into documents the reviewer could not read (restricted) get no judgment and are
  not counted. Groups: the citation's source; the ISO week (`2026-W09`) in which the *answer*
  was given; the composer (model) with the prompt id and version.
- **Agreement**, over answers with two or more reviewers: every pair of reviewers of an answer
  (ordered by who reviewed first) gives one pair of verdicts per citation both judged, and one
  pair of answer-level verdicts. Percent agreement is the share of equal pairs; Cohen's kappa
  is computed over all pairs pooled (first reviewer as rater A, second as rater B). Kappa is
  undefined (None) when chance agreement is 1 (both raters used one category throughout).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal, get_args

if TYPE_CHECKING:  # the store's SQLAlchemy tables are not needed to name verdicts (CLI start-up)
    from agent.review.store import AnswerFacts, StoredReview

__all__ = [
    "ANSWER_VERDICTS",
    "CITATION_VERDICTS",
    "SKIPPED",
    "VERDICT_SCORES",
    "Agreement",
    "AnswerVerdict",
    "CitationVerdict",
    "PrecisionRow",
    "ReviewReport",
    "build_report",
    "cohen_kappa",
    "report_to_csv",
    "report_to_dict",
]

CitationVerdict = Literal["supports", "partially_supports", "does_not_support", "irrelevant"]
CITATION_VERDICTS: Final[tuple[CitationVerdict, ...]] = get_args(CitationVerdict)
AnswerVerdict = Literal["correct", "partially_correct", "incorrect"]
ANSWER_VERDICTS: Final[tuple[AnswerVerdict, ...]] = get_args(AnswerVerdict)
SKIPPED: Final = "skipped"  # the answer verdict column of a skip (`ReviewService.skip`)
VERDICT_SCORES: Final[Mapping[str, float]] = {
    "supports": 1.0,
    "partially_supports": 0.5,
    "does_not_support": 0.0,
    "irrelevant": 0.0,
}
CSV_COLUMNS: Final = (
    "group",
    "key",
    "answers",
    "citations",
    "judgments",
    "supports",
    "partially_supports",
    "does_not_support",
    "irrelevant",
    "precision",
    "strict_precision",
)


@dataclass(frozen=True)
class PrecisionRow:
    key: str
    answers: int
    citations: int  # distinct citations judged
    judgments: int  # verdicts counted (a citation reviewed twice gives two)
    supports: int
    partially_supports: int
    does_not_support: int
    irrelevant: int
    precision: float | None  # None when nothing was judged
    strict_precision: float | None


@dataclass(frozen=True)
class Agreement:
    answers: int  # answers with two or more reviewers
    citation_pairs: int
    citation_percent: float | None
    citation_kappa: float | None
    answer_pairs: int
    answer_percent: float | None
    answer_kappa: float | None


@dataclass(frozen=True)
class ReviewReport:
    generated_at: datetime
    since: datetime | None  # answers given in [since, until)
    until: datetime | None
    reviews: int  # latest reviews counted
    reviewers: int
    overall: PrecisionRow
    by_source: tuple[PrecisionRow, ...]
    by_week: tuple[PrecisionRow, ...]
    by_model_prompt: tuple[PrecisionRow, ...]
    worst_sources: tuple[PrecisionRow, ...]
    answer_verdicts: Mapping[str, int]
    agreement: Agreement


@dataclass(frozen=True)
class _Judgment:
    answer_id: str
    marker: int
    verdict: str
    weight: float  # 1 / reviewers of this citation
    source: str
    week: str
    model_prompt: str


def build_report(
    latest: Sequence[StoredReview],
    facts: Mapping[str, AnswerFacts],
    *,
    generated_at: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    worst: int = 5,
    worst_min_citations: int = 3,
) -> ReviewReport:
    """The report over `latest` (one review per reviewer and answer: `latest_per_reviewer`)."""
    counted = [r for r in latest if r.answer_id in facts and r.answer_verdict != SKIPPED]
    raw: list[tuple[StoredReview, int, str]] = [
        (r, m, v)
        for r in counted
        for m, v in r.verdicts.items()
        if m in facts[r.answer_id].citations and v in VERDICT_SCORES
    ]
    judges = Counter((r.answer_id, m) for r, m, _ in raw)
    judgments = [
        _Judgment(
            answer_id=r.answer_id,
            marker=m,
            verdict=v,
            weight=1.0 / judges[(r.answer_id, m)],
            source=facts[r.answer_id].citations[m].source_id,
            week=_week(facts[r.answer_id].created_at),
            model_prompt=_model_prompt(facts[r.answer_id]),
        )
        for r, m, v in raw
    ]
    by_source = _grouped(judgments, lambda j: j.source)
    ranked = sorted(
        (row for row in by_source if row.citations >= worst_min_citations),
        key=lambda row: (row.precision if row.precision is not None else 1.0, -row.citations),
    )
    return ReviewReport(
        generated_at=generated_at,
        since=since,
        until=until,
        reviews=len(counted),
        reviewers=len({r.reviewer for r in counted}),
        overall=_row("all", judgments),
        by_source=by_source,
        by_week=_grouped(judgments, lambda j: j.week),
        by_model_prompt=_grouped(judgments, lambda j: j.model_prompt),
        worst_sources=tuple(ranked[:worst]),
        answer_verdicts=dict(sorted(Counter(r.answer_verdict for r in counted).items())),
        agreement=agreement(counted),
    )


def agreement(latest: Sequence[StoredReview]) -> Agreement:
    """Agreement between reviewers of the same answers (see the module docstring)."""
    by_answer: dict[str, list[StoredReview]] = defaultdict(list)
    for review in latest:  # already ordered by answer, then first review time
        by_answer[review.answer_id].append(review)
    citation_pairs: list[tuple[str, str]] = []
    answer_pairs: list[tuple[str, str]] = []
    shared = 0
    for reviews in by_answer.values():
        if len(reviews) < 2:
            continue
        shared += 1
        for i, first in enumerate(reviews):
            for second in reviews[i + 1 :]:
                answer_pairs.append((first.answer_verdict, second.answer_verdict))
                for marker in sorted(set(first.verdicts) & set(second.verdicts)):
                    citation_pairs.append((first.verdicts[marker], second.verdicts[marker]))
    return Agreement(
        answers=shared,
        citation_pairs=len(citation_pairs),
        citation_percent=_percent(citation_pairs),
        citation_kappa=cohen_kappa(citation_pairs),
        answer_pairs=len(answer_pairs),
        answer_percent=_percent(answer_pairs),
        answer_kappa=cohen_kappa(answer_pairs),
    )


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters over `pairs` (rater A's label, rater B's label).

    Written out rather than imported: scikit-learn's `cohen_kappa_score` is the same five
    lines, and the agent package should not depend on scikit-learn for them.
    """
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    left = Counter(a for a, _ in pairs)
    right = Counter(b for _, b in pairs)
    expected = sum(left[k] * right[k] for k in left) / (n * n)
    if expected >= 1.0:
        return None
    return round((observed - expected) / (1.0 - expected), 4)


def report_to_dict(report: ReviewReport) -> dict[str, object]:
    """The report as JSON-ready data (datetimes as ISO 8601 strings)."""
    data = asdict(report)
    for key in ("generated_at", "since", "until"):
        value = data[key]
        data[key] = value.isoformat() if isinstance(value, datetime) else None
    return data


def report_to_csv(report: ReviewReport) -> str:
    """One row per group (`overall`, `source`, `week`, `model_prompt`), columns `CSV_COLUMNS`.

    Agreement is in the JSON export (a different shape). Cells that a spreadsheet would run
    as a formula (leading = + - @) are prefixed with a quote."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    groups: tuple[tuple[str, Sequence[PrecisionRow]], ...] = (
        ("overall", (report.overall,)),
        ("source", report.by_source),
        ("week", report.by_week),
        ("model_prompt", report.by_model_prompt),
    )
    for group, rows in groups:
        for row in rows:
            writer.writerow(
                [
                    group,
                    _cell(row.key),
                    row.answers,
                    row.citations,
                    row.judgments,
                    row.supports,
                    row.partially_supports,
                    row.does_not_support,
                    row.irrelevant,
                    "" if row.precision is None else f"{row.precision:.4f}",
                    "" if row.strict_precision is None else f"{row.strict_precision:.4f}",
                ]
            )
    return buffer.getvalue()


def _grouped(
    judgments: Sequence[_Judgment], key: Callable[[_Judgment], str]
) -> tuple[PrecisionRow, ...]:
    groups: dict[str, list[_Judgment]] = defaultdict(list)
    for judgment in judgments:
        groups[key(judgment)].append(judgment)
    return tuple(_row(k, groups[k]) for k in sorted(groups))


def _row(key: str, judgments: Sequence[_Judgment]) -> PrecisionRow:
    verdicts = Counter(j.verdict for j in judgments)
    weight = sum(j.weight for j in judgments)
    score = sum(j.weight * VERDICT_SCORES[j.verdict] for j in judgments)
    strict = sum(j.weight for j in judgments if j.verdict == "supports")
    return PrecisionRow(
        key=key,
        answers=len({j.answer_id for j in judgments}),
        citations=len({(j.answer_id, j.marker) for j in judgments}),
        judgments=len(judgments),
        supports=verdicts["supports"],
        partially_supports=verdicts["partially_supports"],
        does_not_support=verdicts["does_not_support"],
        irrelevant=verdicts["irrelevant"],
        precision=round(score / weight, 4) if weight else None,
        strict_precision=round(strict / weight, 4) if weight else None,
    )


def _percent(pairs: Sequence[tuple[str, str]]) -> float | None:
    return round(sum(a == b for a, b in pairs) / len(pairs), 4) if pairs else None


def _week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _model_prompt(facts: AnswerFacts) -> str:
    if facts.prompt_id:
        prompt = f"{facts.prompt_id}@{facts.prompt_version or '?'}"
    else:
        prompt = facts.prompt_version or "no prompt"
    return f"{facts.composer} | {prompt}"


def _cell(value: str) -> str:
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value
