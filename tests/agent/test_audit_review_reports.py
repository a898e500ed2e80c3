"""Citation audit reviews (`ReviewService`) over a real audit store, the sample KB index and
the real Casbin policy (the `world` fixture): reports (precision by source, week and model, the
window, agreement and Cohen's kappa, CSV and JSON exports)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from agent.review.report import (
    CSV_COLUMNS,
    Agreement,
    PrecisionRow,
    ReviewReport,
    cohen_kappa,
    report_to_csv,
    report_to_dict,
)
from tests.fixtures.audit_reviews import START, AuditWorld, review_a_sample


def test_report_precision_by_source_week_and_model(world: AuditWorld) -> None:
    review_a_sample(world)
    report = world.service.report(world.oscar)
    five = world.audit.get(world.answers["five"])
    vpn = world.audit.get(world.answers["vpn"])
    assert five is not None and vpn is not None
    # five, two reviewers: per-citation means 1, 1, .75, 0, .5 (strict: 1, 1, .5, 0, .5).
    n_vpn = len(vpn.citations)
    assert report.overall.citations == 5 + n_vpn
    assert report.overall.judgments == 10 + n_vpn
    assert report.overall.precision == pytest.approx(round((3.25 + n_vpn) / (5 + n_vpn), 4))
    assert report.overall.strict_precision == pytest.approx(round((3.0 + n_vpn) / (5 + n_vpn), 4))
    assert (report.reviews, report.reviewers) == (3, 2)
    weeks = {row.key: row for row in report.by_week}
    assert set(weeks) == {"2026-W45", "2026-W46"}
    assert weeks["2026-W46"].precision == 0.65 and weeks["2026-W45"].precision == 1.0
    models = {row.key: row.precision for row in report.by_model_prompt}
    assert models == {"llm:local/test-model | answer@v1": 0.65, "extractive | no prompt": 1.0}
    sources = {row.key: row for row in report.by_source}
    assert sum(row.citations for row in sources.values()) == report.overall.citations
    assert set(sources) == {c.source_id for c in (*five.citations, *vpn.citations)}
    ranked = [row.key for row in report.worst_sources]
    assert all(sources[k].citations >= 3 for k in ranked)
    assert [sources[k].precision for k in ranked] == sorted(
        sources[k].precision or 0 for k in ranked
    )
    assert report.answer_verdicts == {"correct": 1, "incorrect": 1, "partially_correct": 1}


def test_report_window_is_by_the_time_the_answer_was_given(world: AuditWorld) -> None:
    review_a_sample(world)
    early = world.service.report(world.oscar, until=START + timedelta(days=7))
    late = world.service.report(world.oscar, since=START + timedelta(days=7))
    assert [r.key for r in early.by_week] == ["2026-W45"]
    assert [r.key for r in late.by_week] == ["2026-W46"]
    assert early.reviews + late.reviews == 3


def test_agreement_is_percent_and_cohens_kappa_over_shared_citations(world: AuditWorld) -> None:
    review_a_sample(world)
    agreement = world.service.report(world.oscar).agreement
    # Pairs on five: (s,s) (s,s) (p,s) (d,d) (i,s): po = 3/5; oscar s2 p1 d1 i1, ada s4 d1
    # pe = (2*4 + 1*1) / 25 = .36; kappa = (.6 - .36) / .64 = .375
    assert agreement == Agreement(
        answers=1,
        citation_pairs=5,
        citation_percent=0.6,
        citation_kappa=0.375,
        answer_pairs=1,
        answer_percent=0.0,
        answer_kappa=0.0,
    )


@pytest.mark.parametrize(
    ("pairs", "kappa"),
    [
        ([], None),
        ([("a", "a"), ("b", "b")], 1.0),
        ([("a", "a"), ("a", "a")], None),  # one category throughout: undefined
        ([("a", "b"), ("b", "a")], -1.0),
        ([("a", "a"), ("a", "b"), ("b", "b"), ("b", "b")], 0.5),
    ],
)
def test_cohen_kappa(pairs: list[tuple[str, str]], kappa: float | None) -> None:
    assert cohen_kappa(pairs) == kappa


def test_report_exports_csv_and_json(world: AuditWorld) -> None:
    review_a_sample(world)
    report = world.service.report(world.oscar)
    rows = list(csv.DictReader(io.StringIO(report_to_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["group"] == "overall" and float(rows[0]["precision"]) == report.overall.precision
    groups = {r["group"] for r in rows}
    assert groups == {"overall", "source", "week", "model_prompt"}
    data = json.loads(json.dumps(report_to_dict(report)))
    assert data["overall"]["precision"] == report.overall.precision
    assert data["agreement"]["citation_kappa"] == 0.375
    assert data["generated_at"].startswith("2026-11-22")


def test_csv_cells_never_become_spreadsheet_formulas() -> None:
    row = PrecisionRow('=HYPERLINK("x")', 1, 1, 1, 1, 0, 0, 0, 1.0, 1.0)
    report = ReviewReport(
        generated_at=START,
        since=None,
        until=None,
        reviews=1,
        reviewers=1,
        overall=row,
        by_source=(row,),
        by_week=(),
        by_model_prompt=(),
        worst_sources=(),
        answer_verdicts={},
        agreement=Agreement(0, 0, None, None, 0, None, None),
    )
    cells = [r[1] for r in csv.reader(io.StringIO(report_to_csv(report)))][1:]
    assert cells == ['\'=HYPERLINK("x")', '\'=HYPERLINK("x")']
