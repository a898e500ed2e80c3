"""The LLM client adapter: llama-index `OpenAILike` for any OpenAI-compatible chat endpoint.

The only module that imports llama-index's LLM classes or the `openai` SDK. It makes exactly one
HTTP request per call (client-side retries are off: retries, backoff and the breaker belong to
the gateway) and translates every failure into an `EndpointCallError` with a `FailureKind`.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
import openai
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.llms.openai_like import OpenAILike

from agent.gateway_errors import EndpointCallError
from agent.llm_settings import EndpointSettings

__all__ = ["ChatClient", "ClientReply", "OpenAILikeClient", "PromptMessage", "parse_retry_after"]

# Sent when an endpoint needs no key. Passing a value explicitly also stops the OpenAI SDK from
# falling back to $OPENAI_API_KEY, which must never leak to a third-party endpoint.
_NO_KEY = "not-needed"
_ROLES: Mapping[str, MessageRole] = {
    "system": MessageRole.SYSTEM,
    "user": MessageRole.USER,
    "assistant": MessageRole.ASSISTANT,
}


@dataclass(frozen=True)
class PromptMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class ClientReply:
    text: str
    prompt_tokens: int | None = None  # None when the endpoint reported no usage
    completion_tokens: int | None = None


class ChatClient(Protocol):
    """One chat completion against one endpoint; raises `EndpointCallError` on any failure."""

    def chat(self, messages: Sequence[PromptMessage]) -> ClientReply: ...

    def close(self) -> None: ...


class OpenAILikeClient:
    """`OpenAILike` configured explicitly (no default model, key or base URL is ever used)."""

    def __init__(self, endpoint: EndpointSettings) -> None:
        self._endpoint = endpoint
        self._http = httpx.Client(timeout=endpoint.timeout_seconds)
        api_key = endpoint.api_key.get_secret_value() if endpoint.api_key else _NO_KEY
        self._llm = OpenAILike(
            model=endpoint.model,
            api_base=endpoint.base_url,
            api_key=api_key,
            is_chat_model=True,
            is_function_calling_model=False,
            context_window=endpoint.context_window,
            max_tokens=endpoint.max_completion_tokens,
            temperature=endpoint.temperature,
            timeout=endpoint.timeout_seconds,
            max_retries=0,
            http_client=self._http,
            # Ask for usage in the final SSE chunk (ignored by the SDK when not streaming).
            additional_kwargs={"stream_options": {"include_usage": True}}
            if endpoint.stream
            else {},
        )

    def chat(self, messages: Sequence[PromptMessage]) -> ClientReply:
        chat_messages = [ChatMessage(role=_ROLES[m.role], content=m.content) for m in messages]
        try:
            if self._endpoint.stream:
                return self._stream(chat_messages)
            return _reply(self._llm.chat(chat_messages))
        except openai.APITimeoutError as exc:
            raise EndpointCallError("timeout", "request timed out") from exc
        except openai.APIConnectionError as exc:
            raise EndpointCallError("connect", "connection failed") from exc
        except openai.APIStatusError as exc:
            raise _status_error(exc) from exc
        except openai.APIResponseValidationError as exc:
            raise EndpointCallError("malformed", "response is not a chat completion") from exc
        except httpx.TimeoutException as exc:  # raised mid-stream, outside the SDK's wrapping
            raise EndpointCallError("timeout", "stream timed out") from exc
        except httpx.HTTPError as exc:
            raise EndpointCallError("connect", "stream interrupted") from exc
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            # A 200 whose body the SDK cannot read (bad JSON, missing choices, bad SSE).
            raise EndpointCallError(
                "malformed", f"unreadable response: {type(exc).__name__}"
            ) from exc

    def _stream(self, messages: list[ChatMessage]) -> ClientReply:
        last: ChatResponse | None = None
        usage: Mapping[str, Any] = {}
        for chunk in self._llm.stream_chat(messages):
            last = chunk
            if "prompt_tokens" in chunk.additional_kwargs:
                usage = chunk.additional_kwargs
        if last is None:
            raise EndpointCallError("malformed", "empty stream")
        return ClientReply(
            text=last.message.content or "",
            prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
            completion_tokens=_int_or_none(usage.get("completion_tokens")),
        )

    def close(self) -> None:
        self._http.close()


def _reply(response: ChatResponse) -> ClientReply:
    usage = response.additional_kwargs
    return ClientReply(
        text=response.message.content or "",
        prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
        completion_tokens=_int_or_none(usage.get("completion_tokens")),
    )


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


def _status_error(exc: openai.APIStatusError) -> EndpointCallError:
    status = exc.status_code
    if status == 429:
        return EndpointCallError(
            "rate_limited",
            "rate limited",
            status=status,
            retry_after=parse_retry_after(exc.response.headers),
        )
    if status == 408:
        return EndpointCallError("timeout", "endpoint timed out", status=status)
    if status >= 500:
        return EndpointCallError("server", "server error", status=status)
    return EndpointCallError("client", "request rejected", status=status)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (millis := lowered.get("retry-after-ms")) is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)
