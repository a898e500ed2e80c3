"""The answer pipeline over the sample knowledge base: real embedder, Qdrant Edge and Casbin."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from agent.decision import HANDOFF_TEXT, NO_EVIDENCE_TEXT
from agent.llm.errors import LLMUnavailableError
from agent.metrics import AgentMetrics
from agent.pipeline import AnswerService
from agent.screening import InvalidQuestionError
from agent.serialize import answer_to_dict
from agent.settings import AgentSettings
from agent.types import Answer, ComposeRequest, Composition
from api.bootstrap.answering import answer_service
from ingest.parsing import parse_document
from ingest.sources import FilesystemSource
from policies.access.principal import Principal
from policies.pii.guard import PiiGuard
from tests.fixtures.counting import CountingRedactor, CountingSentenceVectors
from tests.fixtures.kb_index import KB, KbIndex
from tests.fixtures.pii import make_guard

PERSONAS = sorted(yaml.safe_load((KB / "identities.yaml").read_text(encoding="utf-8"))["users"])
CANARIES = yaml.safe_load((KB / "canaries.yaml").read_text(encoding="utf-8"))["canaries"]
NONSENSE = "Zorblax quintuple marmalade vortex?"


@pytest.fixture(scope="module")
def service(kb_index: KbIndex) -> AnswerService:
    return _service(kb_index)


def _service(kb_index: KbIndex, **options: Any) -> AnswerService:
    """The pipeline over the kb index, with `options` (a guard, a tracer, settings…)."""
    return answer_service(
        retrieval=kb_index.retrieval,
        policy=kb_index.policy,
        embedder=kb_index.embedder,
        index_version=kb_index.state.index_version,
        **options,
    )


def test_the_pipeline_is_given_its_collaborators() -> None:
    """No self-built defaults: production (`api.bootstrap`) and tests build it one way."""
    params = inspect.signature(AnswerService).parameters
    required = {name for name, p in params.items() if p.default is inspect.Parameter.empty}
    assert {"settings", "tracer", "recorder", "conversations", "condenser"} <= required
    assert "verifier" not in params  # its own part, on its one sentence index


def test_the_pipeline_counts_each_answer_it_gives(kb_index: KbIndex) -> None:
    metrics = AgentMetrics()
    service = _service(kb_index, metrics=metrics)
    answers = [
        service.answer(q, principal=_as(kb_index, "bob"))
        for q in (NONSENSE, "How do I connect to the VPN?")
    ]
    for status in {a.status for a in answers}:
        counted = metrics.registry.get_sample_value(
            "proofdesk_pipeline_answers_total", {"status": status}
        )
        assert counted == sum(a.status == status for a in answers)


def _as(kb_index: KbIndex, user: str | None) -> Principal:
    return kb_index.policy.principal_for(user)


def _document_text(kb_index: KbIndex, document_id: str) -> str:
    """The document's normalised text, parsed again from the kb file."""
    source_id, _, key = document_id.partition(":")
    source = kb_index.registry.get(source_id)
    assert isinstance(source, FilesystemSource)
    root = source.root
    path = root / key
    doc_type = path.suffix.lstrip(".")
    return parse_document(path.read_bytes(), doc_type, fallback_title=path.stem).text  # type: ignore[arg-type]


def _clean(text: str) -> str:
    return " ".join(re.sub(r"\*\*|__|`", "", text).split())


def test_an_answer_cites_exact_spans_of_the_documents(
    service: AnswerService, kb_index: KbIndex
) -> None:
    answer = service.answer(
        "How long are deleted files kept in the recycle bin?", principal=_as(kb_index, "bob")
    )
    assert answer.status == "answered"
    assert "93 days" in answer.answer
    assert answer.citations
    assert answer.composer == "extractive"
    assert answer.policy_version == kb_index.policy.version
    assert answer.index_version == kb_index.state.index_version()
    sentences = [s for s in re.split(r"\s*\[\d+\]\s*", answer.answer) if s]
    assert len(sentences) == len(answer.citations)
    for citation, sentence in zip(answer.citations, sentences, strict=True):
        text = _document_text(kb_index, citation.document_id)
        assert text[citation.start : citation.end] == citation.quote
        assert _clean(citation.quote) in _clean(sentence) or _clean(sentence) in _clean(
            citation.quote
        )
        assert f"[{citation.marker}]" in answer.answer
        assert citation.support == 1.0
        assert citation.title and citation.uri and citation.chunk_id and citation.source_id
        assert citation.document_version


@pytest.mark.parametrize("fallback", [False, True], ids=["extractive", "after-a-model-failed"])
def test_one_request_reads_its_evidence_sentences_once(kb_index: KbIndex, fallback: bool) -> None:
    """With the per-chunk cache off, the on-topic check, the composer and the verifier still
    read the evidence's sentences once, though the on-topic check left some evidence out: the
    pipeline builds the pool once and passes it on, narrowed."""
    vectors = CountingSentenceVectors(embedder=kb_index.embedder)
    recording = _Recording()
    service = _service(
        kb_index,
        # every retrieved chunk is evidence until its sentences are judged off topic
        settings=AgentSettings(sentence_cache_chunks=0, evidence_min_similarity=-1.0),
        sentence_vectors=vectors,
        composer=_UnavailableModel() if fallback else None,
        tracer=recording,
    )
    answer = service.answer(
        "How long are deleted files kept in the recycle bin?", principal=_as(kb_index, "bob")
    )
    assert answer.status == "answered" and "93 days" in answer.answer
    [read] = vectors.calls
    assert len(read) == len(set(read))
    on_topic = recording.attributes["evidence"]["evidence"]
    assert isinstance(on_topic, int) and 1 <= on_topic < len(read)
    assert {c.chunk_id for c in answer.citations} <= set(read)


def test_every_step_is_timed(service: AnswerService, kb_index: KbIndex) -> None:
    answer = service.answer("How do I book the boardroom?", principal=_as(kb_index, "bob"))
    assert set(answer.timings_ms) == {
        "screen", "condense", "retrieve", "evidence", "compose", "verify", "decide", "record",
        "total",
    }  # fmt: skip
    assert answer.timings_ms["total"] >= answer.timings_ms["retrieve"]


def test_a_question_nothing_in_the_sources_covers_is_refused(
    service: AnswerService, kb_index: KbIndex
) -> None:
    answer = service.answer(
        "Can I bring my children to the office during school holidays?",
        principal=_as(kb_index, "bob"),
    )
    assert answer.status in {"refused_insufficient_support", "refused_no_evidence"}
    assert answer.citations == []
    assert answer.handoff_summary is None


def test_without_evidence_on_topic_the_answer_is_refused_without_composing(
    service: AnswerService, kb_index: KbIndex
) -> None:
    answer = service.answer(NONSENSE, principal=_as(kb_index, "bob"))
    assert answer.status == "refused_no_evidence"
    assert answer.answer == NO_EVIDENCE_TEXT
    assert answer.citations == []


def test_a_contractor_gets_no_evidence_for_an_employee_policy(
    service: AnswerService, kb_index: KbIndex
) -> None:
    answer = service.answer(
        "How many days of annual leave do employees get?", principal=_as(kb_index, "judy")
    )
    assert answer.status.startswith("refused")
    assert not any(c.document_id.startswith("hr-kb:") for c in answer.citations)


@pytest.mark.parametrize(
    "question",
    [
        "I want to talk to a human about my VPN connection",
        "The VPN keeps dropping on hotel Wi-Fi, can I speak to a person?",
    ],
)
def test_asking_for_a_person_escalates_with_a_handoff_summary(
    service: AnswerService, kb_index: KbIndex, question: str
) -> None:
    answer = service.answer(question, principal=_as(kb_index, "bob"))
    assert answer.status == "escalated"
    assert answer.answer.startswith(HANDOFF_TEXT)
    assert "human_requested" in answer.flags
    assert answer.handoff_summary is not None
    assert question in answer.handoff_summary
    assert "VPN" in answer.handoff_summary  # the titles of what was found
    # Without a redactor the summary never carries passages (they may hold personal data).
    for citation in answer.citations:
        assert citation.quote not in answer.handoff_summary


def test_with_a_guard_the_handoff_summary_is_masked_once_and_never_analysed_again(
    kb_index: KbIndex,
) -> None:
    counting = CountingRedactor(make_guard().redactor)
    guard = PiiGuard(redactor=counting)
    guarded = _service(kb_index, guard=guard)
    question = "I want to talk to a human about my VPN connection, call me on +1 503 555 0188"
    answer = guarded.answer(question, principal=_as(kb_index, "bob"))
    assert answer.status == "escalated"
    summary = answer.handoff_summary
    assert summary is not None
    assert "555 0188" not in summary
    assert "<PHONE_NUMBER_1>" in summary
    assert "Best passages" in summary  # with a guard, the passages found are included, masked
    analysed = counting.calls
    assert guard.mask_text(summary) == summary  # what the audit record and the trace do
    assert counting.calls == analysed


def test_low_confidence_escalates_without_showing_the_draft(kb_index: KbIndex) -> None:
    cautious = _service(
        kb_index,
        settings=AgentSettings(
            answer_threshold=1.9, escalate_threshold=0.3, cautious_answer_threshold=1.9
        ),
    )
    answer = cautious.answer("How do I book the boardroom?", principal=_as(kb_index, "bob"))
    assert answer.status == "escalated"
    assert answer.answer == HANDOFF_TEXT
    assert answer.citations == []
    assert answer.handoff_summary is not None
    assert "low confidence" in answer.handoff_summary


@pytest.mark.parametrize(
    ("question", "code"),
    [("", "empty_question"), ("   ", "empty_question"), ("x" * 2001, "question_too_long")],
)
def test_invalid_questions_raise(
    service: AnswerService, kb_index: KbIndex, question: str, code: str
) -> None:
    with pytest.raises(InvalidQuestionError) as caught:
        service.answer(question, principal=_as(kb_index, "bob"))
    assert caught.value.code == code


def test_an_invalid_conversation_id_raises(service: AnswerService, kb_index: KbIndex) -> None:
    with pytest.raises(InvalidQuestionError) as caught:
        service.answer("How do I book the boardroom?", principal=_as(kb_index, "bob"),
                       conversation_id="not valid!")  # fmt: skip
    assert caught.value.code == "invalid_conversation_id"


def test_a_follow_up_is_answered_as_a_standalone_question(
    service: AnswerService, kb_index: KbIndex
) -> None:
    bob = _as(kb_index, "bob")
    first = service.answer(
        "How long is paid parental leave for a primary caregiver?",
        principal=bob,
        conversation_id="parental-1",
    )
    assert first.conversation_id == "parental-1"
    assert "20 weeks" in first.answer
    follow_up = service.answer(
        "and for secondary caregivers?", principal=bob, conversation_id="parental-1"
    )
    assert "follow_up_condensed" in follow_up.flags
    assert follow_up.status == "answered"
    assert any(c.document_id.endswith("parental-leave-policy.pdf") for c in follow_up.citations)
    assert "6 weeks" in follow_up.answer


def test_another_user_does_not_continue_someone_elses_conversation(
    service: AnswerService, kb_index: KbIndex
) -> None:
    service.answer(
        "How long is paid parental leave for a primary caregiver?",
        principal=_as(kb_index, "bob"),
        conversation_id="shared-id",
    )
    other = service.answer(
        "and for secondary caregivers?",
        principal=_as(kb_index, "alice"),
        conversation_id="shared-id",
    )
    assert "follow_up_condensed" not in other.flags


def test_a_new_conversation_id_is_issued_when_none_is_given(
    service: AnswerService, kb_index: KbIndex
) -> None:
    first = service.answer("How do I book the boardroom?", principal=_as(kb_index, "bob"))
    second = service.answer("and for contractors?", principal=_as(kb_index, "bob"))
    assert first.conversation_id != second.conversation_id
    assert "follow_up_condensed" not in second.flags


QUESTIONS_FOR_EVERYONE = [
    "What are the steps to fail over a VPN gateway for maintenance?",
    "What is the salary range for an L3 engineer?",
    "When is the findings report for investigation case 2026-014 due?",
    "How long is the cooling-off period after a supplier changes bank details?",
    "How many expense reports in the 2025 internal audit sample were missing receipts?",
    "How long does a standard performance improvement plan last?",
    "When are department budget submissions for FY2027 due?",
    "What are Northwind's standard payment terms for supplier invoices?",
    *(f"What is {c['string']}?" for c in CANARIES),
]


@pytest.mark.parametrize("user", [*PERSONAS, None])
def test_no_persona_is_ever_shown_a_document_it_may_not_read(
    service: AnswerService, kb_index: KbIndex, user: str | None
) -> None:
    principal = _as(kb_index, user)
    for question in QUESTIONS_FOR_EVERYONE:
        answer = service.answer(question, principal=principal)
        for citation in answer.citations:
            state = kb_index.state.document(citation.document_id)
            assert state is not None
            assert kb_index.policy.can_read(
                principal, source_id=state.source_id, read=state.read, deny=state.deny
            ), (user, question, citation.document_id)
        for canary in CANARIES:
            if canary["string"] in answer.answer or canary["string"] in (
                answer.handoff_summary or ""
            ):
                readers = {r.removeprefix("group:") for r in canary["readers"]}
                assert principal.groups & readers, (user, canary["string"])


@pytest.mark.parametrize("canary", CANARIES, ids=lambda c: c["string"])
def test_a_refusal_does_not_reveal_a_hidden_document(
    service: AnswerService, kb_index: KbIndex, canary: dict[str, object]
) -> None:
    outsider = _as(kb_index, "bob")  # reads none of the canaries' documents
    hidden = service.answer(f"What is {canary['string']}?", principal=outsider)
    nonsense = service.answer(NONSENSE, principal=outsider)
    assert hidden.status == nonsense.status == "refused_no_evidence"
    visible = ("answer_id", "conversation_id", "trace_id")
    hidden_json = {k: v for k, v in answer_to_dict(hidden).items() if k not in visible}
    nonsense_json = {k: v for k, v in answer_to_dict(nonsense).items() if k not in visible}
    assert hidden_json == nonsense_json
    assert str(canary["string"]) not in hidden.answer


@dataclass
class _Recording:
    spans: list[str] = field(default_factory=list)
    traces: list[dict[str, object]] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    answers: list[tuple[Answer, Principal]] = field(default_factory=list)
    owners: list[str | None] = field(default_factory=list)
    attributes: dict[str, dict[str, object]] = field(default_factory=dict)  # per span name

    @property
    def trace_id(self) -> str:
        return "trace-1"

    @contextmanager
    def trace(
        self,
        name: str = "answer",
        *,
        user_id: str | None = None,
        conversation_id: str | None = None,
        input: object = None,
        **attrs: object,
    ) -> Iterator[_Recording]:
        self.traces.append({"name": name, "user_id": user_id, "conversation_id": conversation_id})
        yield self

    @contextmanager
    def span(self, name: str, **attrs: object) -> Iterator[_Recording]:
        self.spans.append(name)
        yield self

    def set(self, **attrs: object) -> None:
        self.attributes.setdefault(self.spans[-1], {}).update(attrs)

    def set_output(self, value: object) -> None:
        return None

    def score(self, name: str, value: float, *, comment: str | None = None) -> None:
        self.scores[name] = value

    def record(self, answer: Answer, principal: Principal, *, owner: str | None = None) -> None:
        self.answers.append((answer, principal))
        self.owners.append(owner)


def test_each_step_runs_in_a_span_and_every_answer_is_recorded(kb_index: KbIndex) -> None:
    recording = _Recording()
    traced = _service(kb_index, tracer=recording, recorder=recording)
    bob = _as(kb_index, "bob")
    answer = traced.answer(
        "How do I book the boardroom?", principal=bob, conversation_id="c-9", owner="user:bob"
    )
    assert recording.spans == [
        "screen", "condense", "retrieve", "evidence", "compose", "verify", "decide", "record",
    ]  # fmt: skip
    assert recording.traces == [{"name": "answer", "user_id": "bob", "conversation_id": "c-9"}]
    assert "answer_score" in recording.scores
    assert answer.trace_id == "trace-1"
    [(recorded, who)] = recording.answers
    assert who == bob and recording.owners == ["user:bob"]  # who may read it back
    assert (recorded.answer_id, recorded.status, recorded.answer) == (
        answer.answer_id, answer.status, answer.answer,
    )  # fmt: skip
    assert "decide" in recorded.timings_ms
    assert "record" in answer.timings_ms


class _UnavailableModel:
    """Stands in for an LLM composer whose endpoints are all down."""

    @property
    def name(self) -> str:
        return "llm"

    def compose(self, request: ComposeRequest) -> Composition:
        raise LLMUnavailableError(())


def test_an_unavailable_model_falls_back_to_the_extractive_composer(kb_index: KbIndex) -> None:
    fallback = _service(kb_index, composer=_UnavailableModel())
    answer = fallback.answer("How do I book the boardroom?", principal=_as(kb_index, "bob"))
    assert answer.status == "answered"
    assert answer.composer == "extractive"
    assert "composer_fallback" in answer.flags
