"""Citation audit reviews (`ReviewService`) over a real audit store, the sample KB index and the
real Casbin policy: the queue, review items, reviews, agreement and reports."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, delete, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError

from agent.audit.migrations import AUDIT_VERSION_TABLE, upgrade_audit_db
from agent.audit.models import AnswerRow, RetentionGrantRow
from agent.review.report import (
    CSV_COLUMNS,
    Agreement,
    PrecisionRow,
    ReviewReport,
    cohen_kappa,
    report_to_csv,
    report_to_dict,
)
from agent.review.service import (
    HIDDEN_TEXT,
    InvalidReviewError,
    NotAnAuditorError,
    ReviewService,
    ReviewSettings,
    UnknownAnswerError,
)
from agent.review.store import audit_database_metadata, review_deletes
from policies.access.principal import Principal
from tests.fixtures.audit_reviews import START, AuditWorld, build_world, drop_schema
from tests.fixtures.databases import POSTGRES_URL
from tests.fixtures.kb_index import KbIndex
from tests.fixtures.pii import leaked_values

REVIEW_TABLES = {"audit_review_picks", "audit_reviews", "audit_review_verdicts"}
ALL_SUPPORT = dict.fromkeys(range(1, 6), "supports")


@pytest.fixture
def world(tmp_path: Path, kb_index: KbIndex) -> Iterator[AuditWorld]:
    built = build_world(tmp_path, kb_index)
    yield built
    built.close()


def service_with(world: AuditWorld, **settings: object) -> ReviewService:
    return ReviewService(
        audit=world.audit,
        reviews=world.reviews,
        index=lambda: world.kb.store,
        policy=world.kb.policy,
        guard=world.guard,
        settings=ReviewSettings.model_validate(settings),
        clock=world.clock,
    )


def second_auditor(world: AuditWorld) -> Principal:
    """Ada: not in the policy's user list, but the identity provider puts her in auditors."""
    return world.kb.policy.principal_for("ada", ["all-staff", "auditors"])


def queued(service: ReviewService, auditor: Principal) -> list[str]:
    return [item.answer_id for item in service.queue(auditor, limit=50)]


# --- schema --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_migrations_create_the_tables_the_models_expect_and_keep_them_append_only(
    backend: str, tmp_path: Path
) -> None:
    schema = f"review_test_{uuid.uuid4().hex[:12]}" if backend == "postgresql" else None
    url = POSTGRES_URL if schema else f"sqlite:///{tmp_path / 'audit.db'}"
    with drop_schema(schema) if schema else nullcontext():
        upgrade_audit_db(url, schema=schema)
        engine = create_engine(url)
        if schema:
            engine = engine.execution_options(schema_translate_map={None: schema})
        try:
            with engine.connect() as connection:
                if schema:
                    connection.execute(text(f'SET search_path TO "{schema}"'))
                assert set(inspect(connection).get_table_names()) >= REVIEW_TABLES
                context = MigrationContext.configure(
                    connection, opts={"version_table": AUDIT_VERSION_TABLE}
                )
                assert compare_metadata(context, audit_database_metadata()) == []
            prefix = f'"{schema}".' if schema else ""
            with engine.begin() as connection:
                connection.execute(
                    text(
                        f"INSERT INTO {prefix}audit_answers (answer_id, created_at,"
                        " conversation_id, status, question, answer, policy_version,"
                        " index_version, composer, timings_json, prompt_tokens,"
                        " completion_tokens, cost_usd, flags_json, citation_count) VALUES"
                        " ('a1', '2026-01-01', 'c', 'answered', 'q', 'a', 'p', 'i', 'x', '{}',"
                        " 0, 0, 0, '[]', 0)"
                    )
                )
                connection.execute(
                    text(
                        f"INSERT INTO {prefix}audit_reviews (review_id, answer_id, created_at,"
                        " reviewer, answer_verdict) VALUES"
                        " ('r1', 'a1', '2026-01-02', 'usr_x', 'correct')"
                    )
                )
            for statement in (
                f"UPDATE {prefix}audit_reviews SET answer_verdict = 'incorrect'",
                f"DELETE FROM {prefix}audit_reviews",
            ):
                with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                    connection.execute(text(statement))
        finally:
            engine.dispose()


# --- who may -------------------------------------------------------------------------------------


def test_only_auditors_may_use_the_review_service(world: AuditWorld) -> None:
    service, five = world.service, world.answers["five"]
    for who in (world.principal("bob"), world.principal("trent"), Principal(user_id=None)):
        with pytest.raises(NotAnAuditorError):
            service.queue(who)
        with pytest.raises(NotAnAuditorError):
            service.item(five, who)
        with pytest.raises(NotAnAuditorError):
            service.review(five, who, citation_verdicts=ALL_SUPPORT, answer_verdict="correct")
        with pytest.raises(NotAnAuditorError):
            service.report(who)
    assert service.is_auditor(world.oscar)
    assert service.is_auditor(second_auditor(world))


# --- the queue -----------------------------------------------------------------------------------


def test_queue_takes_picks_then_negative_feedback_then_weak_support(world: AuditWorld) -> None:
    service, a = world.service, world.answers
    assert queued(service, world.oscar) == [a["weak"]]  # 0.62 < 0.7; no sample at rate 0
    world.audit.add_feedback(a["lockout"], -1, "wrong!", principal=world.principal("bob"))
    world.audit.add_feedback(a["vpn"], 1, principal=world.principal("bob"))
    world.clock.advance(minutes=1)
    service.pick(a["vpn"], world.oscar)
    items = service.queue(world.oscar)
    assert [i.answer_id for i in items] == [a["vpn"], a["lockout"], a["weak"]]
    assert [i.reasons for i in items] == [("picked",), ("negative_feedback",), ("low_support",)]
    assert items[2].min_support == pytest.approx(0.62)
    assert items[0].question.startswith("How do I install and connect the VPN on my ")
    assert service.next_answer(world.oscar) == a["vpn"]
    assert service.next_answer(world.oscar, after=a["vpn"]) == a["lockout"]
    assert service.next_answer(world.oscar, after=a["weak"]) == a["vpn"]  # wraps around
    with pytest.raises(UnknownAnswerError):
        service.pick("no-such-answer", world.oscar)


def test_the_sample_is_stable_and_grows_with_the_rate(world: AuditWorld) -> None:
    cited = set(world.answers.values())

    def sample(rate: float, seed: str = "s1") -> set[str]:
        service = service_with(world, sample_rate=rate, sample_seed=seed, low_support_threshold=0)
        return set(queued(service, world.oscar))

    assert sample(0.0) == set()
    assert sample(1.0) == cited
    assert sample(0.5) == sample(0.5)  # a fresh service agrees: the sample is by hash
    assert sample(0.3) <= sample(0.6) <= sample(0.9)
    assert len({frozenset(sample(0.5, seed)) for seed in ("s1", "s2", "s3", "s4", "s5")}) > 1


def test_an_answer_leaves_the_queue_when_it_has_the_reviewers_it_wants(world: AuditWorld) -> None:
    ada, weak = second_auditor(world), world.answers["weak"]
    verdicts = {1: "supports", 2: "supports"}
    single = service_with(world, double_review_rate=0.0)
    double = service_with(world, double_review_rate=1.0)
    single.review(weak, world.oscar, citation_verdicts=verdicts, answer_verdict="correct")
    assert weak not in queued(single, world.oscar)
    assert weak not in queued(single, ada)  # one reviewer is enough
    assert weak not in queued(double, world.oscar)  # never twice for the same auditor
    assert weak in queued(double, ada)
    item = double.queue(ada)[0]
    assert (item.reviewers, item.wanted_reviewers) == (1, 2)
    double.review(weak, ada, citation_verdicts=verdicts, answer_verdict="correct")
    assert weak not in queued(double, ada)


def test_a_picked_answer_stays_until_someone_reviews_it_after_the_pick(world: AuditWorld) -> None:
    service, five = world.service, world.answers["five"]
    service.review(five, world.oscar, citation_verdicts=ALL_SUPPORT, answer_verdict="correct")
    world.clock.advance(minutes=5)
    service.pick(five, second_auditor(world))
    assert five in queued(service, world.oscar)  # a second look, even for its reviewer
    world.clock.advance(minutes=5)
    service.review(five, world.oscar, citation_verdicts=ALL_SUPPORT, answer_verdict="correct")
    assert five not in queued(service, world.oscar)


# --- review items --------------------------------------------------------------------------------


def test_an_item_shows_each_quote_inside_its_chunk_text_masked(world: AuditWorld) -> None:
    item = world.service.item(world.answers["five"], world.oscar)
    assert "415 555 0134" not in item.question and "<PHONE_NUMBER_1>" in item.question
    assert len(item.citations) == 5 and item.reviewable_markers == (1, 2, 3, 4, 5)
    record = world.audit.get(item.answer_id)
    assert record is not None
    chunks = world.kb.store.retrieve_chunks([c.chunk_id for c in record.citations])
    for view, cited, chunk in zip(item.citations, record.citations, chunks, strict=True):
        assert (view.state, view.changed, view.restricted) == ("current", False, False)
        assert view.title == cited.title and view.uri == cited.uri
        assert view.before is not None and view.after is not None
        assert view.quote.strip() and view.quote == cited.quote
        raw = chunk.text
        start = cited.start - chunk.start
        assert raw[start : start + len(view.quote)] == view.quote
        assert view.before.lstrip("…") in raw[:start] or "<" in view.before
    assert [s.marker for s in item.segments if s.marker] == [1, 2, 3, 4, 5]
    assert "".join(s.text for s in item.segments) == item.answer


def test_a_citation_the_auditor_may_not_read_is_restricted(world: AuditWorld) -> None:
    salary = world.answers["salary"]
    hidden = world.service.item(salary, world.oscar)
    assert hidden.citations and all(c.restricted for c in hidden.citations)
    for c in hidden.citations:
        assert (c.title, c.uri, c.document_id, c.quote, c.before, c.after) == (
            "",
            "",
            "",
            "",
            None,
            None,
        )
    assert hidden.reviewable_markers == ()
    # The answer's sentences are the restricted documents' text: hidden too, markers kept.
    assert [p.marker for p in hidden.segments if p.marker] == [c.marker for c in hidden.citations]
    assert all(p.hidden for p in hidden.segments if p.marker is None and p.text.strip())
    assert HIDDEN_TEXT in hidden.answer
    record = world.audit.get(salary)
    assert record is not None
    assert all(c.quote.strip() not in hidden.answer for c in record.citations)
    # An auditor who may read HR's confidential documents sees them.
    frank = world.kb.policy.principal_for("frank", ["auditors"])
    shown = world.service.item(salary, frank)
    assert not any(c.restricted for c in shown.citations)
    assert all(c.quote and c.title for c in shown.citations)
    assert shown.answer == record.answer and not any(p.hidden for p in shown.segments)
    # Nothing to judge: no verdict is taken (not even one on the answer alone); it is skipped.
    assert hidden.all_restricted and not shown.all_restricted
    for verdicts in ({1: "supports"}, {}):
        with pytest.raises(InvalidReviewError, match="every citation of this answer is restricted"):
            world.service.review(
                salary, world.oscar, citation_verdicts=verdicts, answer_verdict="correct"
            )


def test_changed_and_removed_documents_are_flagged(world: AuditWorld) -> None:
    item = world.service.item(world.answers["moved"], world.oscar)
    version, gone_chunk, gone_document = item.citations
    assert (version.state, version.restricted) == ("changed", False)
    assert version.before is not None  # the chunk is unchanged: the quote is found in it
    assert (gone_chunk.state, gone_chunk.restricted) == ("changed", False)
    assert gone_chunk.before is None and gone_chunk.quote  # the recorded quote alone
    assert (gone_document.state, gone_document.restricted, gone_document.changed) == (
        "removed",
        True,
        True,
    )
    with pytest.raises(UnknownAnswerError):
        world.service.item("no-such-answer", world.oscar)


# --- reviews -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdicts", "answer_verdict", "note", "message"),
    [
        ({1: "supports"}, "correct", None, r"citation \[2\], \[3\], \[4\], \[5\] needs a verdict"),
        ({**ALL_SUPPORT, 6: "supports"}, "correct", None, r"has no citation \[6\]"),
        ({**ALL_SUPPORT, 2: "maybe"}, "correct", None, r"citation \[2\]: a verdict is one of"),
        (ALL_SUPPORT, "fine", None, "the answer verdict is one of"),
        (ALL_SUPPORT, "correct", "x" * 2001, "longer than 2000"),
    ],
)
def test_incomplete_or_invalid_reviews_are_refused(
    world: AuditWorld,
    verdicts: dict[int, str],
    answer_verdict: str,
    note: str | None,
    message: str,
) -> None:
    with pytest.raises(InvalidReviewError, match=message):
        world.service.review(
            world.answers["five"],
            world.oscar,
            citation_verdicts=verdicts,
            answer_verdict=answer_verdict,
            note=note,
        )
    assert world.service.history(world.answers["five"], world.oscar) == []


def test_notes_are_masked_and_reviewers_pseudonymous(world: AuditWorld) -> None:
    note = "Ask Jane Doe (jane.doe@example.com, +1 415 555 0199) about citation 3."
    review = world.service.review(
        world.answers["five"],
        world.oscar,
        citation_verdicts=ALL_SUPPORT,
        answer_verdict="correct",
        note=note,
    )
    assert review.note is not None and "citation 3" in review.note
    assert leaked_values(review.note, ["Jane", "Doe", "jane.doe@example.com", "415 555 0199"]) == []
    assert review.reviewer.startswith("usr_") and "oscar" not in review.reviewer
    with world.audit.engine.connect() as connection:
        stored = " ".join(
            str(row) for row in connection.execute(text("SELECT * FROM audit_reviews"))
        )
    assert "jane" not in stored.lower() and "oscar" not in stored


def test_a_second_review_counts_instead_of_the_first_and_history_keeps_both(
    world: AuditWorld,
) -> None:
    service, five = world.service, world.answers["five"]
    service.review(five, world.oscar, citation_verdicts=ALL_SUPPORT, answer_verdict="correct")
    world.clock.advance(minutes=3)
    changed = {**ALL_SUPPORT, 4: "does_not_support"}
    service.review(five, world.oscar, citation_verdicts=changed, answer_verdict="incorrect")
    history = service.history(five, world.oscar)
    assert [r.answer_verdict for r in history] == ["correct", "incorrect"]
    assert service.item(five, world.oscar).mine == history[1]
    report = service.report(world.oscar)
    assert (report.reviews, report.overall.citations, report.overall.precision) == (1, 5, 0.8)
    assert report.answer_verdicts == {"incorrect": 1}


# --- reports -------------------------------------------------------------------------------------


def review_a_sample(world: AuditWorld) -> None:
    s, a, ada = world.service, world.answers, second_auditor(world)
    oscar_five = {1: "supports", 2: "supports", 3: "partially_supports"}
    oscar_five |= {4: "does_not_support", 5: "irrelevant"}
    s.review(a["five"], world.oscar, citation_verdicts=oscar_five, answer_verdict="incorrect")
    ada_five = {1: "supports", 2: "supports", 3: "supports", 4: "does_not_support", 5: "supports"}
    s.review(a["five"], ada, citation_verdicts=ada_five, answer_verdict="partially_correct")
    vpn = world.audit.get(a["vpn"])
    assert vpn is not None
    s.review(
        a["vpn"],
        world.oscar,
        citation_verdicts={c.marker: "supports" for c in vpn.citations},
        answer_verdict="correct",
    )


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


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_whole_flow_on_postgresql(tmp_path: Path, kb_index: KbIndex) -> None:
    schema = f"review_flow_{uuid.uuid4().hex[:12]}"
    with drop_schema(schema):
        world = build_world(tmp_path, kb_index, url=POSTGRES_URL, schema=schema)
        try:
            a = world.answers
            world.audit.add_feedback(a["lockout"], -1, principal=world.principal("bob"))
            world.service.pick(a["five"], world.oscar)
            assert queued(world.service, world.oscar) == [a["five"], a["lockout"], a["weak"]]
            review_a_sample(world)
            assert queued(world.service, world.oscar) == [a["lockout"], a["weak"]]
            report = world.service.report(world.oscar)
            assert report.reviews == 3 and report.agreement.citation_kappa == 0.375
        finally:
            world.close()


# --- retention -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_reviews_go_with_their_answers(backend: str, tmp_path: Path, kb_index: KbIndex) -> None:
    schema = f"review_keep_{uuid.uuid4().hex[:12]}" if backend == "postgresql" else None
    with drop_schema(schema) if schema else nullcontext():
        world = build_world(tmp_path, kb_index, url=POSTGRES_URL if schema else None, schema=schema)
        try:
            review_a_sample(world)
            world.service.pick(world.answers["weak"], world.oscar)
            engine = world.audit.engine
            # What the retention job runs first, inside its transaction (holding its grant).
            old = select(AnswerRow.answer_id).where(
                AnswerRow.created_at < START + timedelta(days=7)
            )
            with engine.begin() as connection:
                connection.execute(insert(RetentionGrantRow).values(token="test-grant"))
                for statement in review_deletes(old):
                    connection.execute(statement)
                connection.execute(delete(RetentionGrantRow))
            report = world.service.report(world.oscar)
            assert report.reviews == 2  # five's two reviews stay; vpn's went
            # The job itself: PostgreSQL cascades what is left; nothing refuses the deletes.
            result = world.audit.delete_older_than(5)
            assert result.answers == len(world.answers)
            assert world.service.report(world.oscar).reviews == 0
            assert world.service.queue(world.oscar) == []
            if backend == "postgresql":
                with engine.connect() as connection:
                    for table in sorted(REVIEW_TABLES):
                        query = f'SELECT count(*) FROM "{schema}".{table}'
                        rows = connection.execute(text(query))
                        assert rows.scalar_one() == 0, table
        finally:
            world.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_retention_job_deletes_the_reviews_of_the_answers_it_deletes(
    backend: str, tmp_path: Path, kb_index: KbIndex
) -> None:
    schema = f"review_gone_{uuid.uuid4().hex[:12]}" if backend == "postgresql" else None
    with drop_schema(schema) if schema else nullcontext():
        world = build_world(tmp_path, kb_index, url=POSTGRES_URL if schema else None, schema=schema)
        try:
            review_a_sample(world)
            world.service.pick(world.answers["weak"], world.oscar)

            result = world.audit.delete_older_than(5)

            assert result.answers == len(world.answers) and result.reviews > 0
            prefix = f'"{schema}".' if schema else ""
            with world.audit.engine.connect() as connection:
                for table in sorted(REVIEW_TABLES):  # no orphans, SQLite included
                    rows = connection.execute(text(f"SELECT count(*) FROM {prefix}{table}"))
                    assert rows.scalar_one() == 0, table
        finally:
            world.close()
