"""The OpenAI-compatible chat completions shapes, and how a Proofdesk answer maps onto them.

Responses are the `openai` package's own types (`ChatCompletion`, `ChatCompletionChunk`,
`Model`), so what we send is what OpenAI's clients parse. Requests keep a model of ours: the
package's request types are TypedDicts without validation, and we accept and ignore the many
fields we do not use (temperature, tools, …) rather than refuse them.

Tools built for OpenAI's `/v1/chat/completions` work unchanged: the last user message is the
question, earlier turns continue the conversation (see `split_question`), and client `system`
messages are ignored (what is retrieved and cited is decided by code, not by instructions).
Citations come back twice: as Markdown reference links under the text (so `[1]` renders as a
link) and in the extension field `proofdesk`.
"""

from __future__ import annotations

import hashlib
import time
from typing import Literal

from openai.types import CompletionUsage, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from pydantic import BaseModel, ConfigDict, Field

from agent.types import Answer
from api.errors import InvalidRequestError
from api.schemas import ChatResponse, ConversationId

__all__ = [
    "ChatCompletionRequest",
    "ChatCompletionResponse",
    "ChatMessage",
    "ModelList",
    "completion_chunk",
    "completion_of",
    "content_with_links",
    "link_footer",
    "model_list",
    "split_question",
]

MODEL_ID = "proofdesk"
Role = Literal["system", "developer", "user", "assistant", "tool"]


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Role
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "".join(p.text or "" for p in self.content if p.type == "text")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",  # temperature, max_tokens, …: accepted and ignored
        json_schema_extra={
            "examples": [
                {
                    "model": "proofdesk",
                    "messages": [{"role": "user", "content": "How do I set up the VPN client?"}],
                },
                {
                    "model": "proofdesk",
                    "stream": True,
                    "messages": [
                        {"role": "user", "content": "How do I set up the VPN client?"},
                        {"role": "assistant", "content": "Install GlobalConnect [1]."},
                        {"role": "user", "content": "And on a Mac?"},
                    ],
                },
            ]
        },
    )

    model: str = Field(default=MODEL_ID, max_length=128)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = Field(
        default=None,
        description="for a key with the act_as scope and no X-Proofdesk-User header: the end "
        "user the answer is for (the header wins when both are sent); ignored for other keys",
    )
    conversation_id: ConversationId | None = Field(
        default=None, description="Proofdesk extension: continue a conversation"
    )


def split_question(request: ChatCompletionRequest, *, max_messages: int) -> tuple[str, str]:
    """The question (the last user message) and the conversation it continues.

    Without a `conversation_id`, the conversation is named after its first user message, so a
    client that resends the whole history (as OpenAI clients do) continues the conversation
    whose turns the pipeline keeps (per user), and follow-ups are condensed against them.
    """
    if len(request.messages) > max_messages:
        raise InvalidRequestError(
            f"at most {max_messages} messages per request", code="too_many_messages"
        )
    users = [m.text().strip() for m in request.messages if m.role == "user"]
    if not users:
        raise InvalidRequestError("no user message to answer", code="no_user_message")
    last_user = max(i for i, m in enumerate(request.messages) if m.role == "user")
    question = request.messages[last_user].text()
    if request.conversation_id:
        return question, request.conversation_id
    digest = hashlib.sha256(users[0].encode("utf-8")).hexdigest()[:24]
    return question, f"oai-{digest}"


class ChatCompletionResponse(ChatCompletion):
    """OpenAI's `ChatCompletion` (the `openai` package's own type), with the Proofdesk answer."""

    proofdesk: ChatResponse = Field(description="the full Proofdesk answer, with citations")


class ChatCompletionChunkOut(ChatCompletionChunk):
    """OpenAI's `ChatCompletionChunk`; the last chunk of a stream carries the Proofdesk answer."""

    proofdesk: ChatResponse | None = None


class ModelList(BaseModel):
    """`GET /v1/models`: many OpenAI-compatible clients list the models before they chat."""

    object: Literal["list"] = "list"
    data: list[Model]


def model_list() -> ModelList:
    """The one model: every completion is a Proofdesk answer, whatever `model` a client sends."""
    return ModelList(
        data=[Model(id=MODEL_ID, object="model", created=int(time.time()), owned_by="proofdesk")]
    )


def link_footer(answer: Answer) -> str:
    """Markdown reference definitions, one per citation: `[1]: <uri> "Title"`."""
    if not answer.citations:
        return ""
    lines = [
        f'[{c.marker}]: <{c.uri.replace(">", "%3E")}> "{c.title.replace(chr(34), chr(39))}"'
        for c in sorted(answer.citations, key=lambda c: c.marker)
    ]
    return "\n\n" + "\n".join(lines)


def content_with_links(answer: Answer) -> str:
    return answer.answer + link_footer(answer)


def completion_of(answer: Answer, *, model: str) -> ChatCompletionResponse:
    usage = answer.usage
    return ChatCompletionResponse(
        id=completion_id(answer),
        object="chat.completion",
        created=int(time.time()),
        model=model,
        choices=[
            Choice(
                index=0,
                finish_reason="stop",
                message=ChatCompletionMessage(role="assistant", content=content_with_links(answer)),
            )
        ],
        usage=CompletionUsage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.prompt_tokens + usage.completion_tokens,
        ),
        proofdesk=ChatResponse.of(answer),
    )


def completion_chunk(
    answer: Answer, *, model: str, created: int, delta: ChoiceDelta, last: bool = False
) -> ChatCompletionChunkOut:
    """One `chat.completion.chunk` of a streamed answer; the last carries the full answer."""
    chunk = ChatCompletionChunkOut(
        id=completion_id(answer),
        object="chat.completion.chunk",
        created=created,
        model=model,
        choices=[ChunkChoice(index=0, delta=delta, finish_reason="stop" if last else None)],
    )
    if last:
        chunk.proofdesk = ChatResponse.of(answer)
    return chunk


def completion_id(answer: Answer) -> str:
    return f"chatcmpl-{answer.answer_id}"
