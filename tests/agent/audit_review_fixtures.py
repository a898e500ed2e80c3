"""An audit database with answers over the shared sample KB index, for the review tests.

Answers come from the real answer pipeline (`AnswerService` over the `kb_index` fixture,
recorded by a real `AuditStore`), plus a few built by hand around real chunks of that index
for what the pipeline does not produce on demand: five citations in one answer, a recorded
document version the index no longer has, a chunk that left the index, a removed document.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from agent.audit.store import AuditStore
from agent.review.service import ReviewService, ReviewSettings
from agent.review.store import ReviewStore
from agent.types import Answer, Citation
from api.bootstrap.answering import answer_service
from policies.access.principal import Principal
from policies.pii.guard import PiiGuard
from retrieval.records import ChunkRecord
from tests.agent.pii_fixtures import make_guard
from tests.kb_index import KbIndex

__all__ = [
    "POSTGRES_URL",
    "AuditWorld",
    "Clock",
    "Recorded",
    "build_world",
    "cited_answer",
    "drop_schema",
    "kb_answers",
    "readable_chunks",
]

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday: ISO week 2026-W45
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class AuditWorld:
    kb: KbIndex
    audit: AuditStore
    reviews: ReviewStore
    service: ReviewService
    guard: PiiGuard
    clock: Clock
    answers: dict[str, str] = field(default_factory=dict)  # name -> answer id

    def principal(self, user: str) -> Principal:
        return self.kb.policy.principal_for(user)

    @property
    def oscar(self) -> Principal:
        return self.principal("oscar")

    def close(self) -> None:
        self.audit.close()


def readable_chunks(
    kb: KbIndex, user: str, query: str, limit: int, *, hidden_from: str | None = None
) -> list[ChunkRecord]:
    """Top chunks (at most one per document) `user` may read, for hand-built citations; with
    `hidden_from`, only chunks that other user may not read."""
    principal = kb.policy.principal_for(user)
    other = kb.policy.principal_for(hidden_from) if hidden_from else None
    hits = kb.store.search(
        query_text=query,
        query_vector=[float(x) for x in kb.embedder.embed_query(query)],
        access=kb.policy.access_filter(principal),
        limit=limit * 6,
    )
    chosen: dict[str, ChunkRecord] = {}
    for hit in hits:
        c = hit.chunk
        if other and kb.policy.can_read(other, source_id=c.source_id, read=c.read, deny=c.deny):
            continue
        chosen.setdefault(c.document_id, c)
    assert len(chosen) >= limit, f"only {len(chosen)} documents for {query!r}"
    return list(chosen.values())[:limit]


def cited_answer(
    chunks: list[ChunkRecord],
    *,
    question: str,
    supports: list[float] | None = None,
    versions: dict[int, str] | None = None,
    chunk_ids: dict[int, str] | None = None,
    document_ids: dict[int, str] | None = None,
    composer: str = "extractive",
    prompt: tuple[str, str] | None = None,
) -> Answer:
    """An answer citing the second sentence of each chunk (marker n cites chunks[n-1])."""
    citations = []
    sentences = []
    for n, chunk in enumerate(chunks, 1):
        start, end = _second_sentence(chunk.text)
        quote = chunk.text[start:end]
        sentences.append(f"{' '.join(quote.split())} [{n}]")
        citations.append(
            Citation(
                marker=n,
                document_id=(document_ids or {}).get(n, chunk.document_id),
                title=chunk.title,
                source_id=chunk.source_id,
                uri=chunk.uri,
                chunk_id=(chunk_ids or {}).get(n, chunk.chunk_id),
                quote=quote,
                start=chunk.start + start,
                end=chunk.start + end,
                support=(supports or [])[n - 1] if supports else 0.9,
                document_version=(versions or {}).get(n, chunk.document_version),
            )
        )
    return Answer(
        answer_id=uuid.uuid4().hex,
        status="answered",
        answer=" ".join(sentences),
        citations=citations,
        conversation_id=uuid.uuid4().hex,
        question=question,
        policy_version="test-policy",
        index_version="test-index",
        composer=composer,
        prompt_id=prompt[0] if prompt else None,
        prompt_version=prompt[1] if prompt else None,
    )


def _second_sentence(text: str) -> tuple[int, int]:
    ends = [m.start() for m in _SENTENCE_END.finditer(text) if m.start() > 20]
    if len(ends) >= 2:
        return ends[0] + 1, ends[1]
    return 0, ends[0] if ends else min(len(text), 160)


@dataclass(frozen=True)
class Recorded:
    """An answer to record, as whom and when."""

    name: str
    answer: Answer
    user: str
    at: datetime


_ANSWERS: dict[int, tuple[Recorded, ...]] = {}


def kb_answers(kb: KbIndex) -> tuple[Recorded, ...]:
    """The answers every review test records (built once per index: the pipeline is slow)."""
    if id(kb) not in _ANSWERS:
        _ANSWERS[id(kb)] = _make_answers(kb)
    return _ANSWERS[id(kb)]


def _make_answers(kb: KbIndex) -> tuple[Recorded, ...]:
    pipeline = answer_service(
        retrieval=kb.retrieval,
        policy=kb.policy,
        embedder=kb.embedder,
        index_version=kb.state.index_version,
    )
    made: list[Recorded] = []
    at = START
    asked = {
        "vpn": ("bob", "How do I install and connect the VPN on my Mac?"),
        "lockout": ("bob", "How many failed sign-in attempts lock my account, and for how long?"),
        "salary": ("frank", "What are the salary bands for level 3 engineers?"),
    }
    for name, (user, question) in asked.items():
        answer = pipeline.answer(question, principal=kb.policy.principal_for(user))
        if not answer.citations:  # the pipeline's thresholds move; the tests need citations
            hidden_from = "oscar" if name == "salary" else None
            chunks = readable_chunks(kb, user, question, 3, hidden_from=hidden_from)
            answer = cited_answer(chunks, question=question)
        made.append(Recorded(name, answer, user, at))
        at += timedelta(days=1)
    at += timedelta(days=7)  # the hand-built ones in the following ISO week
    five = readable_chunks(kb, "oscar", "VPN password account laptop", 5)
    made.append(
        Recorded(
            "five",
            cited_answer(
                five,
                question="How do I get connected to the VPN? Call me on +1 415 555 0134.",
                supports=[0.93, 0.88, 0.81, 0.9, 0.95],
                prompt=("answer", "v1"),
                composer="llm:local/test-model",
            ),
            "bob",
            at,
        )
    )
    travel = readable_chunks(kb, "oscar", "expense travel booking", 3)
    made.append(
        Recorded(
            "weak",
            cited_answer(travel[:2], question="How do I book travel?", supports=[0.62, 0.91]),
            "alice",
            at + timedelta(hours=1),
        )
    )
    made.append(
        Recorded(
            "moved",
            cited_answer(
                [travel[2]] * 3,
                question="What changed?",
                versions={1: "0123456789abcdef0123456789abcdef"},
                chunk_ids={2: str(uuid.uuid4()), 3: str(uuid.uuid4())},
                document_ids={3: "kb:documents/that-was-deleted.md"},
            ),
            "alice",
            at + timedelta(hours=2),
        )
    )
    return tuple(made)


def build_world(
    tmp: Path,
    kb: KbIndex,
    *,
    url: str | None = None,
    schema: str | None = None,
    settings: ReviewSettings | None = None,
) -> AuditWorld:
    """A fresh audit database holding `kb_answers(kb)`; the clock then stands 20 days on."""
    clock = Clock()
    guard = make_guard()
    audit = AuditStore(
        url=url or f"sqlite:///{tmp / 'audit.db'}", guard=guard, schema=schema, clock=clock
    )
    reviews = ReviewStore(engine=audit.engine)
    service = ReviewService(
        audit=audit,
        reviews=reviews,
        index=lambda: kb.store,
        policy=kb.policy,
        guard=guard,
        settings=settings or ReviewSettings(sample_rate=0.0, double_review_rate=0.0),
        clock=clock,
    )
    world = AuditWorld(kb, audit, reviews, service, guard, clock)
    for recorded in kb_answers(kb):
        clock.now = recorded.at
        audit.record(recorded.answer, world.principal(recorded.user))
        world.answers[recorded.name] = recorded.answer.answer_id
    clock.now = START + timedelta(days=20)
    return world


@contextmanager
def drop_schema(schema: str) -> Iterator[None]:
    """Drop a PostgreSQL schema on exit (tests give each run its own)."""
    try:
        yield
    finally:
        engine = create_engine(POSTGRES_URL)
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
