"""`ChatApi`: what the chat endpoints call — one answer per request, as JSON or as a stream.

The answer is complete and verified before the first byte goes out: streams replay the
verified text sentence by sentence, so an unsupported sentence can never reach a client, and a
failure (invalid question, index not ready, timeout) is still an ordinary HTTP error status.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterator

import anyio.to_thread
from fastapi.sse import format_sse_event
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from agent.screening import check_question_length
from agent.types import Answer
from api.auth import Authenticator, Identity
from api.metrics import ApiMetrics
from api.openai_compat import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    completion_chunk,
    completion_of,
    link_footer,
    split_question,
)
from api.ports import ChatService
from api.schemas import ChatRequest, ChatResponse, CitationOut

__all__ = ["ChatApi", "answer_pieces"]

# After a citation marker, or after a sentence's end that no marker follows.
_PIECE_END = re.compile(r"(?:\[\d+\]|[.!?](?!\s*\[\d+\]))\s+")


def answer_pieces(text: str) -> list[str]:
    """The answer split after each sentence and its markers: `"".join(pieces) == text`."""
    pieces: list[str] = []
    start = 0
    for match in _PIECE_END.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _sse(data: object, event: str | None = None) -> bytes:
    return format_sse_event(data_str=json.dumps(data, ensure_ascii=False), event=event)


class ChatApi:
    def __init__(
        self,
        *,
        chat: ChatService,
        metrics: ApiMetrics,
        authenticator: Authenticator,
        max_question_chars: int,
        max_messages: int,
    ) -> None:
        """`max_question_chars`: the answer pipeline's limit (`agent.max_question_chars`)."""
        self._chat = chat
        self._authenticator = authenticator
        self._metrics = metrics
        self._max_chars = max_question_chars
        self._max_messages = max_messages

    async def ask(self, request: ChatRequest, identity: Identity) -> ChatResponse:
        answer = await self._answer(request.question, identity, request.conversation_id)
        return ChatResponse.of(answer)

    async def ask_streaming(self, request: ChatRequest, identity: Identity) -> Iterator[bytes]:
        """SSE: `delta` events (verified text), then `citations`, then `done` with the status."""
        answer = await self._answer(request.question, identity, request.conversation_id)
        return self._events(answer)

    def _events(self, answer: Answer) -> Iterator[bytes]:
        for piece in answer_pieces(answer.answer):
            yield _sse({"text": piece}, "delta")
        citations = [CitationOut.of(c).model_dump() for c in answer.citations]
        yield _sse({"citations": citations}, "citations")
        yield _sse(
            {
                "status": answer.status,
                "answer_id": answer.answer_id,
                "conversation_id": answer.conversation_id,
                "trace_id": answer.trace_id,
            },
            "done",
        )

    async def complete(
        self, request: ChatCompletionRequest, identity: Identity
    ) -> ChatCompletionResponse:
        question, conversation_id = split_question(request, max_messages=self._max_messages)
        answer = await self._answer(question, self._openai_user(request, identity), conversation_id)
        return completion_of(answer, model=request.model)

    async def complete_streaming(
        self, request: ChatCompletionRequest, identity: Identity
    ) -> Iterator[bytes]:
        """OpenAI-style `chat.completion.chunk` events, then `data: [DONE]`."""
        question, conversation_id = split_question(request, max_messages=self._max_messages)
        answer = await self._answer(question, self._openai_user(request, identity), conversation_id)
        return self._chunks(answer, request.model)

    def _openai_user(self, request: ChatCompletionRequest, identity: Identity) -> Identity:
        """For an `act_as` key that named no user in X-Proofdesk-User, the OpenAI `user` field
        names the end user (OpenAI clients can set it; most cannot add headers per request)."""
        if request.user and "act_as" in identity.scopes and not identity.acting:
            return self._authenticator.act_for(identity, request.user)
        return identity

    def _chunks(self, answer: Answer, model: str) -> Iterator[bytes]:
        created = int(time.time())

        def chunk(delta: ChoiceDelta, *, last: bool = False) -> bytes:
            body = completion_chunk(answer, model=model, created=created, delta=delta, last=last)
            return format_sse_event(data_str=body.model_dump_json(exclude_unset=True))

        yield chunk(ChoiceDelta(role="assistant", content=""))
        for piece in [*answer_pieces(answer.answer), link_footer(answer)]:
            if piece:
                yield chunk(ChoiceDelta(content=piece))
        yield chunk(ChoiceDelta(), last=True)
        yield format_sse_event(data_str="[DONE]")

    async def _answer(
        self, question: str, identity: Identity, conversation_id: str | None
    ) -> Answer:
        identity = identity.end_user()  # an act_as key must name its end user
        text = question.strip()
        # Refused before a thread is taken, with the pipeline's own rule and limit.
        check_question_length(text, self._max_chars)
        work = functools.partial(self._answer_blocking, text, identity, conversation_id)
        # Abandonable, so the request timeout answers on time even if the pipeline does not.
        answer = await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        self._metrics.answers.labels(answer.status).inc()
        return answer

    def _answer_blocking(
        self, question: str, identity: Identity, conversation_id: str | None
    ) -> Answer:
        # The answer pipeline records the answer (the audit record), for its asker to read back:
        # a key without a user owns its conversations and answers itself.
        return self._chat.answer(
            question,
            principal=identity.principal,
            conversation_id=conversation_id,
            owner=identity.asker,
        )
