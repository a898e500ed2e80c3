"""`ReviewStore`: auditors' picks and citation reviews, append-only, in the audit database.

The tables live next to the audit record (same database, same schema, same Alembic chain:
`agent/audit/migrations/versions/0002_audit_reviews.py`) and reference its answers. Like the audit
record they are append-only: a reviewer who changes their mind writes a new review, and the
latest review per reviewer and answer is the one that counts (`latest_per_reviewer`); the
history stays. The queue and report queries over the audit record's own tables are here too,
so `ReviewService` never writes SQL.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    Delete,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Select,
    String,
    Text,
    delete,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload
from sqlalchemy.orm import Session as OrmSession

from agent.audit.models import AUDIT_METADATA, AnswerRow, CitationRow, FeedbackRow

__all__ = [
    "REVIEW_METADATA",
    "AnswerFacts",
    "AnswerSummary",
    "CitedSource",
    "ReviewStore",
    "StoredPick",
    "StoredReview",
    "audit_database_metadata",
    "latest_per_reviewer",
    "review_deletes",
]

_IN_CHUNK = 500  # ids per IN (…) list


class _Base(DeclarativeBase):
    pass


# By column, not by name: the answers table belongs to the audit record's metadata.
_ANSWER_ID = AUDIT_METADATA.tables["audit_answers"].c.answer_id


class PickRow(_Base):
    __tablename__ = "audit_review_picks"
    pick_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    answer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey(_ANSWER_ID, ondelete="CASCADE"), index=True
    )
    picked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    auditor: Mapped[str] = mapped_column(String(80))


class ReviewRow(_Base):
    __tablename__ = "audit_reviews"
    review_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    answer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey(_ANSWER_ID, ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    reviewer: Mapped[str] = mapped_column(String(80), index=True)
    answer_verdict: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    verdicts: Mapped[builtins.list[VerdictRow]] = relationship(
        order_by="VerdictRow.marker", lazy="raise"
    )


class VerdictRow(_Base):
    __tablename__ = "audit_review_verdicts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("audit_reviews.review_id", ondelete="CASCADE"), index=True
    )
    marker: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(40))


REVIEW_METADATA = _Base.metadata


def audit_database_metadata() -> MetaData:
    """Every table of the audit database (the record and the reviews), for schema checks:
    `compare_metadata(context, audit_database_metadata())` after `upgrade_audit_db`."""
    combined = MetaData()
    for table in (*AUDIT_METADATA.tables.values(), *REVIEW_METADATA.tables.values()):
        table.to_metadata(combined)
    return combined


@dataclass(frozen=True)
class StoredPick:
    pick_id: str
    answer_id: str
    picked_at: datetime
    auditor: str  # pseudonym


@dataclass(frozen=True)
class StoredReview:
    """One review as written; `reviewer` is a pseudonym, `note` is masked."""

    review_id: str
    answer_id: str
    reviewer: str
    created_at: datetime
    answer_verdict: str
    note: str | None
    verdicts: Mapping[int, str]  # citation marker -> verdict


@dataclass(frozen=True)
class AnswerSummary:
    """What a queue row shows of a recorded answer (texts are masked)."""

    answer_id: str
    created_at: datetime
    status: str
    question: str
    citation_count: int
    min_support: float | None


@dataclass(frozen=True)
class CitedSource:
    source_id: str
    document_id: str


@dataclass(frozen=True)
class AnswerFacts:
    """What a report groups a reviewed answer by."""

    answer_id: str
    created_at: datetime
    composer: str
    prompt_id: str | None
    prompt_version: str | None
    citations: Mapping[int, CitedSource]  # marker -> where it points


def review_deletes(answer_ids: Select[str]) -> tuple[Delete, ...]:
    """The statements that delete the picks and reviews of the answers `answer_ids` selects,
    for the retention job to run inside its transaction (it holds the grant the append-only
    triggers ask for) before it deletes those answers. PostgreSQL cascades by itself; SQLite
    does not enforce foreign keys unless asked, so these keep it free of orphans."""
    reviews = select(ReviewRow.review_id).where(ReviewRow.answer_id.in_(answer_ids))
    return (
        delete(VerdictRow).where(VerdictRow.review_id.in_(reviews)),
        delete(ReviewRow).where(ReviewRow.answer_id.in_(answer_ids)),
        delete(PickRow).where(PickRow.answer_id.in_(answer_ids)),
    )


def latest_per_reviewer(reviews: Iterable[StoredReview]) -> builtins.list[StoredReview]:
    """The review that counts for each (answer, reviewer): their newest. Sorted by answer, then
    by when each reviewer first reviewed it (the first reviewer of an answer comes first)."""
    first: dict[tuple[str, str], datetime] = {}
    latest: dict[tuple[str, str], StoredReview] = {}
    for review in sorted(reviews, key=lambda r: (r.created_at, r.review_id)):
        key = (review.answer_id, review.reviewer)
        first.setdefault(key, review.created_at)
        latest[key] = review
    return sorted(
        latest.values(),
        key=lambda r: (r.answer_id, first[(r.answer_id, r.reviewer)], r.reviewer),
    )


class ReviewStore:
    """Picks and reviews over the audit database's engine (`AuditStore.engine`). Thread-safe.

    The tables come with the audit migrations: build the `AuditStore` first (it migrates).
    """

    def __init__(self, *, engine: Engine) -> None:
        self._engine = engine

    # --- writes --------------------------------------------------------------------------------

    def add_pick(self, *, answer_id: str, auditor: str, at: datetime) -> StoredPick:
        row = PickRow(
            pick_id=str(uuid.uuid4()), answer_id=answer_id, picked_at=_utc(at), auditor=auditor
        )
        with OrmSession(self._engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
        return StoredPick(row.pick_id, row.answer_id, _utc(row.picked_at), row.auditor)

    def add_review(
        self,
        *,
        answer_id: str,
        reviewer: str,
        at: datetime,
        answer_verdict: str,
        note: str | None,
        verdicts: Mapping[int, str],
    ) -> StoredReview:
        review_id = str(uuid.uuid4())
        row = ReviewRow(
            review_id=review_id,
            answer_id=answer_id,
            created_at=_utc(at),
            reviewer=reviewer,
            answer_verdict=answer_verdict,
            note=note,
            verdicts=[
                VerdictRow(review_id=review_id, marker=m, verdict=v)
                for m, v in sorted(verdicts.items())
            ],
        )
        with OrmSession(self._engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
        return _review(row)

    # --- reviews and picks ---------------------------------------------------------------------

    def reviews_for(self, answer_ids: Collection[str]) -> builtins.list[StoredReview]:
        """Every review of these answers, oldest first (the whole history)."""
        found: builtins.list[StoredReview] = []
        for ids in _chunks(answer_ids):
            query = _reviews().where(ReviewRow.answer_id.in_(ids))
            found.extend(self._reviews(query))
        return sorted(found, key=lambda r: (r.created_at, r.review_id))

    def reviews_of_answers_between(
        self, since: datetime | None, until: datetime | None
    ) -> builtins.list[StoredReview]:
        """Every review of the answers given in [since, until), oldest first."""
        query = _reviews().join(AnswerRow, AnswerRow.answer_id == ReviewRow.answer_id)
        if since is not None:
            query = query.where(AnswerRow.created_at >= _utc(since))
        if until is not None:
            query = query.where(AnswerRow.created_at < _utc(until))
        return self._reviews(query.order_by(ReviewRow.created_at, ReviewRow.review_id))

    def latest_picks(self, answer_ids: Collection[str] | None = None) -> dict[str, datetime]:
        """answer id -> when it was last picked (every picked answer, or among `answer_ids`)."""
        latest = func.max(PickRow.picked_at)
        base = (
            select(PickRow.answer_id, latest)
            .join(AnswerRow, AnswerRow.answer_id == PickRow.answer_id)
            .group_by(PickRow.answer_id)
        )
        queries = (
            [base]
            if answer_ids is None
            else [base.where(PickRow.answer_id.in_(ids)) for ids in _chunks(answer_ids)]
        )
        picks: dict[str, datetime] = {}
        with OrmSession(self._engine) as session:
            for query in queries:
                picks.update({a: _utc(t) for a, t in session.execute(query).tuples()})
        return picks

    # --- the audit record, as the queue and the reports need it --------------------------------

    def negatively_rated(
        self, *, since: datetime | None, limit: int, offset: int = 0
    ) -> builtins.list[str]:
        """Answers given since `since` that a user rated -1, most recently rated first."""
        latest = func.max(FeedbackRow.created_at)
        query = (
            select(FeedbackRow.answer_id)
            .join(AnswerRow, AnswerRow.answer_id == FeedbackRow.answer_id)
            .where(FeedbackRow.rating == -1)
            .group_by(FeedbackRow.answer_id)
            .order_by(latest.desc(), FeedbackRow.answer_id)
        )
        if since is not None:
            query = query.where(AnswerRow.created_at >= _utc(since))
        return self._ids(query.limit(limit).offset(offset))

    def negative_among(self, answer_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for ids in _chunks(answer_ids):
            query = (
                select(FeedbackRow.answer_id)
                .where(FeedbackRow.rating == -1, FeedbackRow.answer_id.in_(ids))
                .distinct()
            )
            found.update(self._ids(query))
        return found

    def weakly_supported(
        self, *, below: float, since: datetime | None, limit: int, offset: int = 0
    ) -> builtins.list[str]:
        """Answers whose weakest citation scores under `below`, weakest first."""
        query = select(AnswerRow.answer_id).where(AnswerRow.min_support < below)
        if since is not None:
            query = query.where(AnswerRow.created_at >= _utc(since))
        query = query.order_by(
            AnswerRow.min_support, AnswerRow.created_at.desc(), AnswerRow.answer_id
        )
        return self._ids(query.limit(limit).offset(offset))

    def cited_answers(
        self, *, since: datetime | None, limit: int, offset: int = 0
    ) -> builtins.list[str]:
        """Answers with at least one citation, newest first (what the random sample draws on)."""
        query = select(AnswerRow.answer_id).where(AnswerRow.citation_count > 0)
        if since is not None:
            query = query.where(AnswerRow.created_at >= _utc(since))
        query = query.order_by(AnswerRow.created_at.desc(), AnswerRow.answer_id)
        return self._ids(query.limit(limit).offset(offset))

    def known_answers(self, answer_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for ids in _chunks(answer_ids):
            found.update(self._ids(select(AnswerRow.answer_id).where(AnswerRow.answer_id.in_(ids))))
        return found

    def summaries(self, answer_ids: Collection[str]) -> dict[str, AnswerSummary]:
        found: dict[str, AnswerSummary] = {}
        with OrmSession(self._engine) as session:
            for ids in _chunks(answer_ids):
                query = select(
                    AnswerRow.answer_id,
                    AnswerRow.created_at,
                    AnswerRow.status,
                    AnswerRow.question,
                    AnswerRow.citation_count,
                    AnswerRow.min_support,
                ).where(AnswerRow.answer_id.in_(ids))
                for a, created, status, question, count, low in session.execute(query).tuples():
                    found[a] = AnswerSummary(a, _utc(created), status, question, count, low)
        return found

    def answer_facts(self, answer_ids: Collection[str]) -> dict[str, AnswerFacts]:
        facts: dict[str, AnswerFacts] = {}
        with OrmSession(self._engine) as session:
            for ids in _chunks(answer_ids):
                cited: dict[str, dict[int, CitedSource]] = {}
                citations = select(
                    CitationRow.answer_id,
                    CitationRow.marker,
                    CitationRow.source_id,
                    CitationRow.document_id,
                ).where(CitationRow.answer_id.in_(ids))
                for answer_id, marker, source, document in session.execute(citations).tuples():
                    cited.setdefault(answer_id, {})[marker] = CitedSource(source, document)
                answers = select(
                    AnswerRow.answer_id,
                    AnswerRow.created_at,
                    AnswerRow.composer,
                    AnswerRow.prompt_id,
                    AnswerRow.prompt_version,
                ).where(AnswerRow.answer_id.in_(ids))
                for a, created, composer, prompt, version in session.execute(answers).tuples():
                    facts[a] = AnswerFacts(
                        a, _utc(created), composer, prompt, version, cited.get(a, {})
                    )
        return facts

    # --- helpers -------------------------------------------------------------------------------

    def _ids(self, query: Select[str]) -> builtins.list[str]:
        with OrmSession(self._engine) as session:
            return [str(a) for a in session.scalars(query)]

    def _reviews(self, query: Select[ReviewRow]) -> builtins.list[StoredReview]:
        with OrmSession(self._engine) as session:
            return [_review(row) for row in session.scalars(query)]


def _reviews() -> Select[ReviewRow]:
    return select(ReviewRow).options(selectinload(ReviewRow.verdicts))


def _review(row: ReviewRow) -> StoredReview:
    return StoredReview(
        review_id=row.review_id,
        answer_id=row.answer_id,
        reviewer=row.reviewer,
        created_at=_utc(row.created_at),
        answer_verdict=row.answer_verdict,
        note=row.note,
        verdicts={v.marker: v.verdict for v in row.verdicts},
    )


def _chunks(ids: Collection[str]) -> Iterable[builtins.list[str]]:
    unique = sorted(set(ids))
    for start in range(0, len(unique), _IN_CHUNK):
        yield unique[start : start + _IN_CHUNK]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
