"""Chat: a JSON answer, the same answer as Server-Sent Events, and OpenAI-compatible completions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from api.deps import ChatApiDep, ChatIdentity
from api.errors import error_responses
from api.openai_compat import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    ModelList,
    model_list,
)
from api.schemas import ChatRequest, ChatResponse

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["chat"])

_ERROR_STATUSES = (400, 401, 403, 413, 422, 429, 503, 504)
_ERRORS = error_responses(*_ERROR_STATUSES)
_STREAM_EXAMPLE = (
    'event: delta\ndata: {"text": "Install the GlobalConnect client [1]. "}\n\n'
    'event: citations\ndata: {"citations": [{"marker": 1, "title": "VPN setup", "…": "…"}]}\n\n'
    'event: done\ndata: {"status": "answered", "answer_id": "a1b2", "conversation_id": "c-7f9e",'
    ' "trace_id": null}\n\n'
)
_OPENAI_STREAM_EXAMPLE = (
    'data: {"id": "chatcmpl-a1b2", "object": "chat.completion.chunk", "choices": [{"index": 0,'
    ' "delta": {"content": "Install the GlobalConnect client [1]. "}}], "…": "…"}\n\n'
    "data: [DONE]\n\n"
)


def _event_stream(example: str, events: list[str] | None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI for an SSE response: the schema describes one event (data is JSON text)."""
    event: dict[str, Any] = {"type": "string"}
    if events:
        event["enum"] = events
    schema = {
        "type": "object",
        "properties": {"event": event, "data": {"type": "string"}},
        "required": ["data"],
    }
    return {
        200: {
            "description": "Server-Sent Events",
            "content": {"text/event-stream": {"schema": schema, "example": example}},
        }
    }


class EventStream(StreamingResponse):
    """`text/event-stream`, unbuffered by proxies."""

    media_type = "text/event-stream"

    def __init__(self, content: Any, status_code: int = 200) -> None:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(content, status_code=status_code, headers=headers)


@router.post("/chat", summary="Ask a question: a cited answer or a refusal", responses=_ERRORS)
async def chat(body: ChatRequest, identity: ChatIdentity, service: ChatApiDep) -> ChatResponse:
    return await service.ask(body, identity)


@router.post(
    "/chat/stream",
    summary="The same answer as Server-Sent Events: delta…, citations, done",
    response_class=EventStream,
    responses={
        **_event_stream(_STREAM_EXAMPLE, ["delta", "citations", "done"]),
        **error_responses(*_ERROR_STATUSES, by_reference=True),
    },
)
async def chat_stream(body: ChatRequest, identity: ChatIdentity, service: ChatApiDep) -> Response:
    return EventStream(await service.ask_streaming(body, identity))


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat completions (`stream: true` for chunks)",
    response_model=ChatCompletionResponse,
    responses={**_event_stream(_OPENAI_STREAM_EXAMPLE, None), **_ERRORS},
)
async def chat_completions(
    body: ChatCompletionRequest, identity: ChatIdentity, service: ChatApiDep
) -> ChatCompletionResponse | Response:
    if body.stream:
        return EventStream(await service.complete_streaming(body, identity))
    return await service.complete(body, identity)


@router.get(
    "/models",
    summary="OpenAI-compatible model list: the one model, `proofdesk`",
    responses=error_responses(400, 401, 403, 429),
)
async def models(_identity: ChatIdentity) -> ModelList:
    return model_list()
