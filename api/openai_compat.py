"""The OpenAI-compatible chat completions shapes, and how a Proofdesk answer maps onto them.

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

from pydantic import BaseModel, ConfigDict, Field

from agent.types import Answer
from api.errors import InvalidRequestError
from api.schemas import ChatResponse, ConversationId

__all__ = [
    "ChatCompletionRequest",
    "ChatCompletionResponse",
    "ChatMessage",
    "ModelCard",
    "ModelList",
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


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    proofdesk: ChatResponse = Field(description="the full Proofdesk answer, with citations")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "proofdesk"


class ModelList(BaseModel):
    """`GET /v1/models`: many OpenAI-compatible clients list the models before they chat."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


def model_list() -> ModelList:
    """The one model: every completion is a Proofdesk answer, whatever `model` a client sends."""
    return ModelList(data=[ModelCard(id=MODEL_ID, created=int(time.time()))])


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
        created=int(time.time()),
        model=model,
        choices=[Choice(message=AssistantMessage(content=content_with_links(answer)))],
        usage=Usage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.prompt_tokens + usage.completion_tokens,
        ),
        proofdesk=ChatResponse.of(answer),
    )


def completion_id(answer: Answer) -> str:
    return f"chatcmpl-{answer.answer_id}"
