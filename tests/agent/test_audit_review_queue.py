"""Citation audit reviews (`ReviewService`) over a real audit store, the sample KB index and
the real Casbin policy (the `world` fixture): who may review, and the review queue (picks,
negative feedback, weak support, the sample, double reviews)."""

from __future__ import annotations

import pytest

from agent.review.service import (
    NotAnAuditorError,
    ReviewService,
    ReviewSettings,
    UnknownAnswerError,
)
from policies.access.principal import Principal
from tests.fixtures.audit_reviews import ALL_SUPPORT, AuditWorld, queued, second_auditor


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
