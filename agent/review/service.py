"""`ReviewService`: citation audit reviews over the audit record (no HTTP here).

What auditors get:

- **A queue** (`agent.review.queue`), fed by (highest priority first) answers an auditor
  *picked* by id, answers a user *rated negatively*, answers whose *weakest citation* scores
  under a threshold, and a stable *random sample* of cited answers; a fraction of answers wants
  two reviewers, so agreement can be measured.
- **A review item**: the masked question and answer and, per citation, the quoted span inside
  its surrounding chunk text (masked here, through the `PiiGuard`), the document title and
  link, whether the document changed since the answer (the recorded document version against
  the index), and whether the auditor may read it at all: a citation into a document the
  auditor may not read is *restricted* and shows no text, title or link (fail closed: when the
  document left the index, nobody can check, so it is restricted too); the text resting on a
  restricted citation is hidden (`agent.review.segments`).
- **Reviews**: a verdict per readable citation, an answer-level verdict and a masked note.
  Append-only: a second review by the same auditor is a new row and the latest one counts.
- **Reports** (`agent.review.report`): precision by source, week, model and prompt version;
  the worst sources; agreement between reviewers; CSV and JSON.

Who may: principals the policy gives `("api", "audit")` (the auditor role). Reviewers are
stored as keyed pseudonyms, like every user in the audit record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from agent.audit.store import AuditRecord, AuditStore, UnknownAnswerError
from agent.review.citations import CitationInspector, seed_scope
from agent.review.queue import ReviewQueue
from agent.review.report import (
    ANSWER_VERDICTS,
    CITATION_VERDICTS,
    SKIPPED,
    AnswerVerdict,
    CitationVerdict,
    ReviewReport,
    build_report,
)
from agent.review.segments import HIDDEN_TEXT, answer_segments
from agent.review.store import ReviewStore, StoredReview, latest_per_reviewer
from agent.review.types import (
    AnswerSegment,
    CitationState,
    CitationView,
    FeedbackView,
    InvalidReviewError,
    NotAnAuditorError,
    QueueItem,
    QueueReason,
    ReviewError,
    ReviewItem,
    ReviewRecord,
    ReviewSettings,
    SkipRecord,
)
from agent.types import Answer
from policies.access.engine import PolicyEngine, holds_auditor_role
from policies.access.principal import Principal
from policies.pii.guard import PiiGuard
from retrieval.store import VectorStore

__all__ = [
    "ANSWER_VERDICTS",
    "CITATION_VERDICTS",
    "HIDDEN_TEXT",
    "AnswerSegment",
    "AnswerVerdict",
    "CitationState",
    "CitationVerdict",
    "CitationView",
    "FeedbackView",
    "InvalidReviewError",
    "NotAnAuditorError",
    "QueueItem",
    "QueueReason",
    "ReviewError",
    "ReviewItem",
    "ReviewRecord",
    "ReviewReport",
    "ReviewService",
    "ReviewSettings",
    "SkipRecord",
    "UnknownAnswerError",
]


class ReviewService:
    """The citation audit. Thread-safe; build one per process.

    `index` returns the open vector store (it may raise while the index is still opening);
    it is called only to show or check citations, never for the queue or reports.
    """

    def __init__(
        self,
        *,
        audit: AuditStore,
        reviews: ReviewStore,
        index: Callable[[], VectorStore],
        policy: PolicyEngine,
        guard: PiiGuard,
        settings: ReviewSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._audit = audit
        self._reviews = reviews
        self._policy = policy
        self._guard = guard
        self._settings = settings or ReviewSettings()
        self._clock = clock
        self._queue = ReviewQueue(reviews=reviews, settings=self._settings, clock=clock)
        self._citations = CitationInspector(
            index=index,
            policy=policy,
            guard=guard,
            context_chars=self._settings.context_chars,
            cache_size=self._settings.context_cache_size,
        )

    @property
    def settings(self) -> ReviewSettings:
        return self._settings

    # --- who -----------------------------------------------------------------------------------

    def is_auditor(self, principal: Principal) -> bool:
        self._policy.maybe_reload()
        return holds_auditor_role(self._policy, principal)

    def _reviewer(self, auditor: Principal) -> str:
        if not self.is_auditor(auditor) or auditor.user_id is None:
            raise NotAnAuditorError("citation reviews need the auditor role and a named user")
        return self._guard.pseudonymize(auditor.user_id)

    # --- the queue -----------------------------------------------------------------------------

    def queue(self, auditor: Principal, *, limit: int = 20) -> list[QueueItem]:
        """What this auditor should review next, highest priority first."""
        return self._queue.for_reviewer(self._reviewer(auditor), limit=limit)

    def next_answer(self, auditor: Principal, *, after: str | None = None) -> str | None:
        """The queue's answer after `after` (the first when `after` is not queued), or None."""
        ids = [item.answer_id for item in self.queue(auditor, limit=100)]
        if after in ids:
            rest = ids[ids.index(after) + 1 :] or [i for i in ids if i != after]
            return rest[0] if rest else None
        return ids[0] if ids else None

    def pick(self, answer_id: str, auditor: Principal) -> datetime:
        """Put an answer in the queue (until someone reviews it); returns the pick time."""
        reviewer = self._reviewer(auditor)
        if not self._reviews.known_answers([answer_id]):
            raise UnknownAnswerError(f"no recorded answer {answer_id}")
        pick = self._reviews.add_pick(answer_id=answer_id, auditor=reviewer, at=self._clock())
        return pick.picked_at

    # --- one item ------------------------------------------------------------------------------

    def item(self, answer_id: str, auditor: Principal) -> ReviewItem:
        """An answer as the auditor reviews it (masked, restricted citations hidden)."""
        reviewer = self._reviewer(auditor)
        record = self._record(answer_id)
        access = self._citations.access(record, auditor)
        with self._guard.scope() as page:  # one page, one set of placeholders
            seed_scope(page, _recorded_texts(record))
            citations = tuple(self._citations.view(a) for a in access)
        segments = answer_segments(record.answer, {c.marker for c in citations if c.restricted})
        latest = [
            r
            for r in latest_per_reviewer(self._reviews.reviews_for([answer_id]))
            if r.answer_verdict != SKIPPED
        ]
        mine = next((r for r in latest if r.reviewer == reviewer), None)
        picked = answer_id in self._reviews.latest_picks([answer_id])
        negative = answer_id in self._reviews.negative_among([answer_id])
        return ReviewItem(
            answer_id=record.answer_id,
            created_at=record.created_at,
            status=record.status,
            question=record.question,
            answer="".join(part.text for part in segments),
            segments=segments,
            composer=record.composer,
            prompt_id=record.prompt_id,
            prompt_version=record.prompt_version,
            min_support=record.min_support,
            citations=citations,
            flags=record.flags,
            reasons=self._queue.reasons(
                answer_id,
                picked=picked,
                negative=negative,
                min_support=record.min_support,
                cited=bool(record.citations),
            ),
            feedback=tuple(
                FeedbackView(f.created_at, f.rating, f.comment)
                for f in self._audit.feedback_for(answer_id)
            ),
            reviewers=len({r.reviewer for r in latest}),
            mine=_record_of(mine) if mine is not None else None,
        )

    def visible_answer(self, answer: Answer, reader: Principal, *, auditor: bool) -> Answer:
        """What `reader` may see of an answer given earlier, by the policy and the index now.

        Citations into documents the reader may no longer read are withheld, and the text
        resting on them hidden, by the audit page's rules (the same decision, the same hiding);
        the answer is then flagged `citations_withheld`. `auditor`: the reader is not the asker
        and reads it as an auditor (`NotAnAuditorError` unless the policy makes them one), and
        sees it masked, as the audit page shows it."""
        if auditor:
            self._reviewer(reader)
        restricted = self._citations.restricted(answer.citations, reader)
        text, citations, flags = answer.answer, list(answer.citations), answer.flags
        if restricted:
            text = "".join(part.text for part in answer_segments(text, set(restricted)))
            citations = [c for c in citations if c.marker not in restricted]
            flags = (*flags, "citations_withheld")
        if auditor:
            mask = self._guard.mask_text
            with self._guard.scope():  # one scope: placeholders agree across the parts
                text = mask(text)
                citations = [
                    replace(c, title=mask(c.title), uri=mask(c.uri), quote=mask(c.quote))
                    for c in citations
                ]
        return replace(answer, answer=text, citations=citations, flags=flags)

    def _record(self, answer_id: str) -> AuditRecord:
        record = self._audit.get(answer_id)
        if record is None:
            raise UnknownAnswerError(f"no recorded answer {answer_id}")
        return record

    # --- reviews -------------------------------------------------------------------------------

    def review(
        self,
        answer_id: str,
        auditor: Principal,
        *,
        citation_verdicts: Mapping[int, str],
        answer_verdict: str,
        note: str | None = None,
    ) -> ReviewRecord:
        """Record a review: a verdict for every citation the auditor may read, none for the
        others, an answer-level verdict and an optional note (masked before it is stored)."""
        reviewer = self._reviewer(auditor)
        record = self._record(answer_id)
        access = self._citations.access(record, auditor)
        readable = {a.citation.marker for a in access if a.readable}
        restricted = {a.citation.marker for a in access if not a.readable}
        given = dict(citation_verdicts)
        if restricted and not readable:
            raise InvalidReviewError(
                "every citation of this answer is restricted for you, so there is nothing to "
                "judge: skip it with a reason and it goes to an auditor who may read them"
            )
        problems = []
        if unknown := sorted(set(given) - readable - restricted):
            problems.append(f"the answer has no citation {_markers(unknown)}")
        if hidden := sorted(set(given) & restricted):
            problems.append(f"citation {_markers(hidden)} is restricted for you")
        if missing := sorted(readable - set(given)):
            problems.append(f"citation {_markers(missing)} needs a verdict")
        if bad := sorted(m for m, v in given.items() if v not in CITATION_VERDICTS):
            problems.append(
                f"citation {_markers(bad)}: a verdict is one of {', '.join(CITATION_VERDICTS)}"
            )
        if answer_verdict not in ANSWER_VERDICTS:
            problems.append(f"the answer verdict is one of {', '.join(ANSWER_VERDICTS)}")
        text = (note or "").strip()
        if len(text) > self._settings.note_max_chars:
            problems.append(f"the note is longer than {self._settings.note_max_chars} characters")
        if problems:
            raise InvalidReviewError("; ".join(problems))
        if text:
            with self._guard.scope():
                text = self._guard.mask_text(text)
        stored = self._reviews.add_review(
            answer_id=answer_id,
            reviewer=reviewer,
            at=self._clock(),
            answer_verdict=answer_verdict,
            note=text or None,
            verdicts=given,
        )
        return _record_of(stored)

    def skip(self, answer_id: str, auditor: Principal, *, reason: str) -> SkipRecord:
        """Pass an answer on with a reason (masked before it is stored), e.g. when every
        citation is restricted for this auditor: it leaves their queue and stays in the
        others' (it counts as nobody's review), so an auditor who may read it gets it."""
        reviewer = self._reviewer(auditor)
        self._record(answer_id)
        text = reason.strip()
        if not text:
            raise InvalidReviewError("a skip needs a reason")
        if len(text) > self._settings.note_max_chars:
            raise InvalidReviewError(
                f"the reason is longer than {self._settings.note_max_chars} characters"
            )
        with self._guard.scope():
            text = self._guard.mask_text(text)
        stored = self._reviews.add_review(
            answer_id=answer_id,
            reviewer=reviewer,
            at=self._clock(),
            answer_verdict=SKIPPED,
            note=text,
            verdicts={},
        )
        return SkipRecord(
            answer_id=answer_id,
            reviewer=reviewer,
            created_at=stored.created_at,
            reason=stored.note or text,
        )

    def history(self, answer_id: str, auditor: Principal) -> list[ReviewRecord]:
        """Every review of an answer, oldest first (earlier reviews of a reviewer included;
        skips are not reviews)."""
        self._reviewer(auditor)
        self._record(answer_id)
        reviews = self._reviews.reviews_for([answer_id])
        return [_record_of(r) for r in reviews if r.answer_verdict != SKIPPED]

    def reviewer_of(self, auditor: Principal) -> str:
        """The pseudonym this auditor's reviews are stored under."""
        return self._reviewer(auditor)

    # --- reports -------------------------------------------------------------------------------

    def report(
        self,
        auditor: Principal,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ReviewReport:
        """Precision and agreement over reviews of the answers given in [since, until)."""
        self._reviewer(auditor)
        reviews = self._reviews.reviews_of_answers_between(since, until)
        latest = latest_per_reviewer(r for r in reviews if r.answer_verdict != SKIPPED)
        facts = self._reviews.answer_facts({r.answer_id for r in latest})
        return build_report(
            latest,
            facts,
            generated_at=self._clock(),
            since=since,
            until=until,
            worst=self._settings.worst_sources,
            worst_min_citations=self._settings.worst_min_citations,
        )


def _recorded_texts(record: AuditRecord) -> Iterator[str]:
    """The texts of a record as masked when it was written (one scope: their placeholders)."""
    yield record.question
    yield record.answer
    for citation in record.citations:
        yield from (citation.title, citation.uri, citation.quote)


def _record_of(review: StoredReview) -> ReviewRecord:
    verdicts = {m: v for m, v in review.verdicts.items() if v in CITATION_VERDICTS}
    return ReviewRecord(
        review_id=review.review_id,
        answer_id=review.answer_id,
        reviewer=review.reviewer,
        created_at=review.created_at,
        answer_verdict=_answer_verdict(review.answer_verdict),
        note=review.note,
        citation_verdicts=_citation_verdicts(verdicts),
    )


def _answer_verdict(value: str) -> AnswerVerdict:
    for verdict in ANSWER_VERDICTS:
        if verdict == value:
            return verdict
    raise ValueError(f"stored answer verdict {value!r} is not known")


def _citation_verdicts(values: Mapping[int, str]) -> dict[int, CitationVerdict]:
    known: dict[str, CitationVerdict] = {v: v for v in CITATION_VERDICTS}
    return {m: known[v] for m, v in sorted(values.items())}


def _markers(markers: list[int]) -> str:
    return ", ".join(f"[{m}]" for m in markers)
