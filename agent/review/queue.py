"""`ReviewQueue`: what an auditor should review next, highest priority first.

The feeds, in order: answers an auditor *picked* by id, answers a user *rated negatively*,
answers whose *weakest citation* scores under `low_support_threshold` (weakest first), and a
*random sample* of cited answers (newest first). The sample is stable: an answer is in it when
a hash of `sample_seed` and its id falls under `sample_rate`, so every replica and every run
agrees; a fraction of answers (`double_review_rate`, also by hash) wants two reviewers. An
answer leaves an auditor's queue once they reviewed (or skipped) it, and everyone's once it has
the reviewers it needs; a picked answer stays until someone reviews it after the pick.
Automatic feeds look back `window_days`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta

from agent.review.report import SKIPPED
from agent.review.store import ReviewStore, StoredReview
from agent.review.types import QUEUE_REASONS, QueueItem, QueueReason, ReviewSettings

__all__ = ["MAX_QUEUE", "ReviewQueue"]

_PAGE = 200
MAX_QUEUE = 500


class ReviewQueue:
    """The queue over the review store; reviewers are the stored pseudonyms."""

    def __init__(
        self, *, reviews: ReviewStore, settings: ReviewSettings, clock: Callable[[], datetime]
    ) -> None:
        self._reviews = reviews
        self._settings = settings
        self._clock = clock

    def for_reviewer(self, reviewer: str, *, limit: int) -> list[QueueItem]:
        """What `reviewer` should review next, highest priority first (at most `limit`)."""
        limit = max(1, min(limit, MAX_QUEUE))
        picks = self._reviews.latest_picks()
        chosen: dict[str, None] = {}
        history: dict[str, list[StoredReview]] = {}
        for reason, page in self._feeds(picks):
            fresh = [a for a in page if a not in history]
            for review in self._reviews.reviews_for(fresh):
                history.setdefault(review.answer_id, []).append(review)
            for answer_id in page:
                reviews = history.setdefault(answer_id, [])
                if answer_id not in chosen and self._open(
                    answer_id,
                    reviews,
                    reviewer,
                    picks.get(answer_id) if reason == "picked" else None,
                ):
                    chosen[answer_id] = None
                    if len(chosen) >= limit:
                        return self._items(list(chosen), picks, history)
        return self._items(list(chosen), picks, history)

    def _feeds(self, picks: Mapping[str, datetime]) -> Iterator[tuple[QueueReason, list[str]]]:
        s = self._settings
        since = self._clock() - timedelta(days=s.window_days)
        yield "picked", sorted(picks, key=lambda a: picks[a], reverse=True)
        yield from _paged("negative_feedback", self._reviews.negatively_rated, since=since)
        yield from _paged(
            "low_support",
            lambda **kw: self._reviews.weakly_supported(below=s.low_support_threshold, **kw),
            since=since,
        )
        if s.sample_rate > 0:
            for _, page in _paged("sampled", self._reviews.cited_answers, since=since):
                yield "sampled", [a for a in page if self._sampled(a)]

    def _open(
        self,
        answer_id: str,
        reviews: list[StoredReview],
        reviewer: str,
        picked_at: datetime | None,
    ) -> bool:
        if any(r.reviewer == reviewer for r in reviews if r.answer_verdict == SKIPPED):
            return False  # passed on by this auditor: it waits for another one
        counted = [r for r in reviews if r.answer_verdict != SKIPPED]
        if picked_at is not None:
            return not any(r.created_at >= picked_at for r in counted)
        reviewers = {r.reviewer for r in counted}
        return reviewer not in reviewers and len(reviewers) < self.wanted(answer_id)

    def _items(
        self,
        ids: list[str],
        picks: Mapping[str, datetime],
        history: Mapping[str, list[StoredReview]],
    ) -> list[QueueItem]:
        summaries = self._reviews.summaries(ids)
        negative = self._reviews.negative_among(ids)
        items = []
        for answer_id in ids:
            summary = summaries.get(answer_id)
            if summary is None:  # deleted by the retention job since it was queued
                continue
            items.append(
                QueueItem(
                    answer_id=answer_id,
                    created_at=summary.created_at,
                    status=summary.status,
                    question=summary.question,
                    citation_count=summary.citation_count,
                    min_support=summary.min_support,
                    reasons=self.reasons(
                        answer_id,
                        picked=answer_id in picks,
                        negative=answer_id in negative,
                        min_support=summary.min_support,
                        cited=summary.citation_count > 0,
                    ),
                    reviewers=len(
                        {
                            r.reviewer
                            for r in history.get(answer_id, [])
                            if r.answer_verdict != SKIPPED
                        }
                    ),
                    wanted_reviewers=self.wanted(answer_id),
                )
            )
        return items

    def reasons(
        self,
        answer_id: str,
        *,
        picked: bool,
        negative: bool,
        min_support: float | None,
        cited: bool,
    ) -> tuple[QueueReason, ...]:
        """Why `answer_id` is (or would be) in the queue, in the feeds' order."""
        low = min_support is not None and min_support < self._settings.low_support_threshold
        flags = (picked, negative, low, cited and self._sampled(answer_id))
        return tuple(reason for reason, on in zip(QUEUE_REASONS, flags, strict=True) if on)

    def _fraction(self, answer_id: str, purpose: str) -> float:
        key = f"{self._settings.sample_seed}:{purpose}:{answer_id}".encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64

    def _sampled(self, answer_id: str) -> bool:
        return self._fraction(answer_id, "sample") < self._settings.sample_rate

    def wanted(self, answer_id: str) -> int:
        """How many reviewers `answer_id` wants (2 for the double-review fraction, else 1)."""
        return 2 if self._fraction(answer_id, "double") < self._settings.double_review_rate else 1


def _paged(
    reason: QueueReason,
    fetch: Callable[..., list[str]],
    *,
    since: datetime,
) -> Iterator[tuple[QueueReason, list[str]]]:
    offset = 0
    while True:
        page = fetch(since=since, limit=_PAGE, offset=offset)
        if not page:
            return
        yield reason, page
        if len(page) < _PAGE:
            return
        offset += _PAGE
