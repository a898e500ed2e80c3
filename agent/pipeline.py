"""`AnswerService`: the answer pipeline, explicit typed steps decided by code.

    screen → condense → retrieve (as the principal) → select evidence → compose → verify
    → decide → record

Every step is timed (`Answer.timings_ms`) and runs in a tracer span. What is retrieved, who may
see it and what is cited is decided here, never by a composer: evidence comes only from the
permission-filtered retriever, every chunk is re-checked with the policy engine before a
composer sees it, and every citation again before it is shown. A request's evidence sentences
are read once, into one `SentencePool` passed to the on-topic check, the extractive composer and
the verifier. The `Answer` is put together by `agent.answer_assembly`; what a request's
answer-cache key holds, and which answers may be reused, is `agent.answer_cache_scope`.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from agent.answer_assembly import assemble_answer, with_timings
from agent.answer_cache import AnswerCache
from agent.answer_cache_scope import CacheScope, answer_flags, composer_version, reused_answer
from agent.conversation import (
    Condenser,
    ConversationStore,
    Turn,
)
from agent.decision import decide
from agent.evidence import SentenceIndex, SentencePool, on_topic, select_evidence
from agent.extractive import LEAD_MARGIN, ExtractiveComposer, missing_cue
from agent.llm.errors import LLMError
from agent.screening import QuestionScreen, check_conversation_id
from agent.settings import AgentSettings
from agent.tracing.port import SpanHandle, TraceHandle, Tracer
from agent.types import Answer, Composer, ComposeRequest, Composition, Evidence
from agent.verification import CitationVerifier, Verification
from policies.access.engine import PolicyEngine
from policies.access.filters import AccessFilter
from policies.access.principal import Principal
from retrieval.embedding.embedder import Embedder
from retrieval.reading import MemoizedReader, Reader
from retrieval.sentence_vectors import SentenceVectors
from retrieval.service import RetrievalRequest, RetrievalService

if TYPE_CHECKING:
    from agent.metrics import AgentMetrics
    from policies.pii.guard import PiiGuard

__all__ = ["AnswerRecorder", "AnswerService", "NoopRecorder"]

log = logging.getLogger(__name__)
# The answer cues whose absence from the lead hands a question to a person (see agent.decision):
# a "when" question is often answered by a condition, not a date, so dates are left out.
_AMOUNTS = ("number", "duration")


def _states_no_amount(question: str, verification: Verification) -> bool:
    """Whether `question` asks for an amount that no verified sentence about as relevant as
    the lead (within the composer's lead margin) states."""
    if not verification.sentences:
        return False
    lead = verification.sentences[0].relevance
    return all(
        missing_cue(question, v.text, _AMOUNTS)
        for v in verification.sentences
        if v.relevance >= lead - LEAD_MARGIN
    )


class AnswerRecorder(Protocol):
    """Keeps a record of every answer (the audit store). Called once per answer; `owner` (the
    API's `user:<id>` or `key:<id>`, None for a direct caller) may read it back."""

    def record(self, answer: Answer, principal: Principal, *, owner: str | None = None) -> None: ...


class NoopRecorder:
    def record(self, answer: Answer, principal: Principal, *, owner: str | None = None) -> None:
        return None


@dataclass
class _Run:
    """What one request accumulates as it goes through the steps."""

    owner: str | None = None  # who may read the answer back (the API's asker)
    timings: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)


class AnswerService:
    """Answers one question as one principal: cited evidence, a refusal, or a hand-off."""

    def __init__(
        self,
        *,
        retrieval: RetrievalService,
        policy: PolicyEngine,
        embedder: Embedder,
        index_version: Callable[[], str],
        settings: AgentSettings,
        tracer: Tracer,
        recorder: AnswerRecorder,
        conversations: ConversationStore,
        condenser: Condenser,
        composer: Composer | None = None,
        fallback_composers: Sequence[Composer] = (),
        guard: PiiGuard | None = None,
        sentence_vectors: SentenceVectors | None = None,
        cache: AnswerCache | None = None,
        reader: Reader | None = None,
        metrics: AgentMetrics | None = None,
    ) -> None:
        """Every collaborator is given (`api.bootstrap.answering` builds them as settings say);
        None, where allowed, switches a feature off: `composer` (the extractive composer
        alone; `fallback_composers` are tried in turn when it fails), `guard` (no masking),
        `sentence_vectors` (sentences embedded on the fly), `cache`, `reader` (the decision
        rests on the confidence alone), `metrics` (answers not counted). The sentence index,
        the extractive composer (the one that cannot fail, tried last) and the verifier are
        the pipeline's own parts: each request's sentence pool is built once and passed to
        them."""
        s = settings
        # One reading per pair: the composer's lead choice and the decision read the same
        # sentences of a request, so the second asks the memo, not the model.
        reader = None if reader is None else MemoizedReader(reader)
        self._metrics = metrics
        self._settings = s
        self._retrieval = retrieval
        self._policy = policy
        self._index_version = index_version
        self._sentences = SentenceIndex(
            embedder=embedder, cache_chunks=s.sentence_cache_chunks, vectors=sentence_vectors
        )
        self._extractive = ExtractiveComposer(
            embedder=embedder,
            query_vector=retrieval.embed_query,
            settings=s,
            # the reader picks the lead: the sentence that states the answer, not the most similar
            answer_scores=None if reader is None else _answer_scores(reader),
        )
        # The composers tried before the extractive one, in turn.
        self._composers: tuple[Composer, ...] = (
            () if composer is None else (composer, *fallback_composers)
        )
        self._cache = cache
        # The composers' part of a cache key: a prompt edit starts a fresh key space.
        self._prompt_version = "|".join(
            [*(composer_version(c) for c in self._composers), self._extractive.name]
        )
        self._verifier = CitationVerifier(
            embedder=embedder,
            query_vector=retrieval.embed_query,
            settings=s,
            reader=reader,  # None: the decision rests on the confidence alone
        )
        self._screen = QuestionScreen(
            max_chars=s.max_question_chars, escalation_phrases=s.escalation_phrases
        )
        self._tracer = tracer
        self._recorder = recorder
        self._guard = guard
        self._conversations = conversations
        self._condenser = condenser

    @property
    def settings(self) -> AgentSettings:
        return self._settings

    def answer(
        self,
        question: str,
        *,
        principal: Principal,
        conversation_id: str | None = None,
        owner: str | None = None,
    ) -> Answer:
        """Raises `InvalidQuestionError` for a question it will not take; never for a refusal.

        `owner` names who owns the conversation (the API passes `user:<id>` or `key:<id>`);
        by default the principal's user."""
        answer = self._answer(
            question, principal=principal, conversation_id=conversation_id, owner=owner
        )
        if self._metrics is not None:
            self._metrics.observe_answer(answer)
        return answer

    def _answer(
        self,
        question: str,
        *,
        principal: Principal,
        conversation_id: str | None,
        owner: str | None,
    ) -> Answer:
        started = time.perf_counter()
        cid = check_conversation_id(conversation_id) if conversation_id else uuid.uuid4().hex
        asker = _asker_key(owner, principal)
        run = _Run(owner=owner)
        with self._tracer.trace(
            "answer", user_id=principal.user_id, conversation_id=cid, input=question
        ) as root:
            with self._step(run, "screen") as span:
                screened = self._screen.screen(question)
                if screened.injection_suspected:
                    run.flag("question_injection_suspected")
                    span.set(injection_reasons=list(screened.injection_reasons))
                if screened.human_requested:
                    run.flag("human_requested")
            with self._step(run, "condense") as span:
                history = self._conversations.history(asker, cid) if conversation_id else []
                standalone = self._condenser.condense(screened.text, history)
                standalone = standalone[-self._settings.max_question_chars :]
                if standalone != screened.text:
                    run.flag("follow_up_condensed")
                span.set(history_turns=len(history), condensed=standalone != screened.text)
            cache_scope, cached = self._lookup(run, principal, standalone, screened.human_requested)
            if cached is not None:
                return self._finish_cached(
                    run,
                    cached=cached,
                    root=root,
                    cid=cid,
                    question=screened.text,
                    principal=principal,
                    asker=asker,
                    standalone=standalone,
                    started=started,
                )
            with self._step(run, "retrieve") as span:
                access = self._access(principal) if cache_scope is None else cache_scope.access
                result = self._retrieval.retrieve_with(
                    RetrievalRequest(
                        query=standalone,
                        principal=principal,
                        top_k=self._settings.retrieval_top_k,
                        per_document_limit=self._settings.evidence_per_document,
                    ),
                    access,
                )
                span.set(chunks=len(result.chunks), policy_version=result.policy_version)
            with self._step(run, "evidence") as span:
                selected = select_evidence(
                    result,
                    limit=self._settings.evidence_k,
                    min_similarity=self._settings.evidence_min_similarity,
                )
                # The evidence's sentences, cut and embedded once per request (cached per
                # chunk): the on-topic check, the composer and the verifier share this pool,
                # and it shows what was left out.
                pool = self._sentences.pool(self._evidence(selected, access))
                topical = on_topic(
                    pool,
                    self._retrieval.embed_query(standalone),
                    min_similarity=self._settings.sentence_min_similarity,
                )
                evidence = list(topical.evidence)
                if pool.suspected or any(e.chunk.injection_suspected for e in evidence):
                    run.flag("evidence_injection_suspected")
                span.set(evidence=len(evidence), sentences=len(pool), suspected=pool.suspected)
            with self._step(run, "compose") as span:
                composition = self._compose(standalone, topical, asker, history, run)
                span.set(composer=composition.composer, sentences=len(composition.sentences))
            with self._step(run, "verify") as span:
                verification = self._verify(standalone, composition, topical, access)
                span.set(
                    kept=len(verification.sentences),
                    dropped=verification.dropped,
                    answer_score=round(verification.answer_score, 4),
                    confidence=verification.confidence,
                    reader_probability=verification.reader_probability,
                    reader_passage=verification.reader_passage,
                    document_ids=sorted(
                        {v.evidence.chunk.document_id for v in verification.sentences}
                    ),
                )
            with self._step(run, "decide") as span:
                decision = decide(
                    evidence_count=len(evidence),
                    verification=verification,
                    human_requested=screened.human_requested,
                    settings=self._settings,
                    quantity_missing=_states_no_amount(standalone, verification),
                )
                span.set(status=decision.status, reason=decision.reason)
            answer = assemble_answer(
                cid=cid,
                question=screened.text,
                decision=decision,
                verification=verification,
                evidence=evidence,
                composition=composition,
                policy_version=result.policy_version,
                index_version=self._index_version(),
                flags=run.flags,
                trace_id=root.trace_id or None,
                guard=self._guard,
            )
            self._record(run, answer, principal, asker, standalone)
            if cache_scope is not None:
                self._store_in_cache(cache_scope, answer, run)
            run.timings["total"] = (time.perf_counter() - started) * 1000
            root.set_output({"status": answer.status, "citations": len(answer.citations)})
            root.score("answer_score", round(verification.answer_score, 4))
        return with_timings(answer, run.timings)

    def _access(self, principal: Principal) -> AccessFilter:
        """The principal's access under the current policy (a policy edit applies at once: a
        cached answer is never served under the policy version it was not made for)."""
        self._policy.maybe_reload()
        return self._policy.access_filter(principal)

    def _lookup(
        self, run: _Run, principal: Principal, question: str, human_requested: bool
    ) -> tuple[CacheScope | None, Answer | None]:
        """The cache step: this request's key scope, and the answer cached under it, if any.
        No scope when there is no cache or the asker wants a human (a hand-off is never cached).
        """
        if self._cache is None or human_requested:
            return None, None
        with self._step(run, "cache") as span:
            scope = CacheScope(question, self._access(principal), self._index_version())
            cached = self._cache.get(
                question=question,
                access=scope.access,
                index_version=scope.index_version,
                prompt_version=self._prompt_version,
            )
            span.set(hit=cached is not None)
        return scope, cached

    def _finish_cached(
        self,
        run: _Run,
        *,
        cached: Answer,
        root: TraceHandle,
        cid: str,
        question: str,
        principal: Principal,
        asker: str,
        standalone: str,
        started: float,
    ) -> Answer:
        """The cached answer as this request's, recorded like any other."""
        for flag in answer_flags(cached):
            run.flag(flag)
        root.set_output({"status": cached.status, "citations": len(cached.citations)})
        answer = reused_answer(
            cached, cid=cid, question=question, flags=run.flags, trace_id=root.trace_id or None
        )
        self._record(run, answer, principal, asker, standalone)
        run.timings["total"] = (time.perf_counter() - started) * 1000
        return with_timings(answer, run.timings)

    def _record(
        self, run: _Run, answer: Answer, principal: Principal, asker: str, standalone: str
    ) -> None:
        with self._step(run, "record"):
            self._conversations.append(
                asker,
                answer.conversation_id,
                [Turn("user", answer.question, standalone), Turn("assistant", answer.answer)],
            )
            # The record carries the timings of every step before this one.
            self._recorder.record(with_timings(answer, run.timings), principal, owner=run.owner)

    def _store_in_cache(self, scope: CacheScope, answer: Answer, run: _Run) -> None:
        """Keep an answer another request with the same question and access may reuse."""
        assert self._cache is not None
        if not scope.admits(answer, run.flags):
            return
        self._cache.put(
            question=scope.question,
            access=scope.access,
            index_version=scope.index_version,
            prompt_version=self._prompt_version,
            answer=answer,
        )

    @contextmanager
    def _step(self, run: _Run, name: str) -> Iterator[SpanHandle]:
        started = time.perf_counter()
        try:
            with self._tracer.span(name) as span:
                yield span
        finally:
            run.timings[name] = (time.perf_counter() - started) * 1000

    def _evidence(self, evidence: list[Evidence], access: AccessFilter) -> list[Evidence]:
        """Only chunks the policy admits reach a composer (retrieval checked them too)."""
        kept = [e for e in evidence if self._readable(e, access)]
        return [Evidence(number=i, chunk=e.chunk, score=e.score) for i, e in enumerate(kept, 1)]

    def _readable(self, item: Evidence, access: AccessFilter) -> bool:
        c = item.chunk
        if self._policy.can_read(access, source_id=c.source_id, read=c.read, deny=c.deny):
            return True
        log.error("policy re-check refused chunk %s of %s; dropped", c.chunk_id, c.document_id)
        return False

    def _compose(
        self,
        question: str,
        pool: SentencePool,
        asker: str,
        history: list[Turn],
        run: _Run,
    ) -> Composition:
        """The first composition a composer gives for `pool`'s evidence; an `LLMError` moves on
        to the next composer, down to the extractive one."""
        if not pool.evidence:  # refused without calling any composer (or model)
            first = self._composers[0].name if self._composers else self._extractive.name
            return Composition(sentences=[], composer=first)
        request = ComposeRequest(
            question=question,
            evidence=pool.evidence,
            user_key=asker,
            conversation=[(t.role, t.text) for t in history],
        )
        for composer in self._composers:
            try:
                return composer.compose(request)
            except LLMError as exc:
                run.flag("composer_fallback")
                log.warning("composer %s failed (%s); trying the next one", composer.name, exc)
        return self._extractive.compose(question, pool)

    def _verify(
        self,
        question: str,
        composition: Composition,
        pool: SentencePool,
        access: AccessFilter,
    ) -> Verification:
        verification = self._verifier.verify(question, composition, pool)
        readable = [v for v in verification.sentences if self._readable(v.evidence, access)]
        if len(readable) == len(verification.sentences):
            return verification
        return verification.restricted(readable, "removed sentences failing the policy re-check")


def _asker_key(owner: str | None, principal: Principal) -> str:
    """A pseudonymous key per owner (budgets, conversation ownership); never the raw id. The
    API always names the owner (`user:<id>`, or `key:<id>` for a key without a user), so keys
    never share one; only a direct caller with neither owner nor user is "anonymous"."""
    who = owner or principal.user_id or "anonymous"
    return hashlib.sha256(f"proofdesk-asker:{who}".encode()).hexdigest()[:24]


def _answer_scores(reader: Reader) -> Callable[[str, Sequence[str]], list[float]]:
    """The reader as the extractive composer's `answer_scores`."""

    def scores(question: str, texts: Sequence[str]) -> list[float]:
        return [float(p) for p in reader.score(question, texts)]

    return scores
