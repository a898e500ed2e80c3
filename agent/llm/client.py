"""The LLM client adapter: the `openai` SDK's chat completions, for any OpenAI-compatible
endpoint (vLLM, llama.cpp, Ollama, OpenAI, Azure).

The only module that calls the `openai` SDK (llama-index's `OpenAILike` wrapper was dropped:
for one chat call it added a second message model and nothing we used). It makes exactly one
HTTP request per call (client-side retries are off: retries, backoff and the breaker belong to
the gateway) and translates every failure into an `EndpointCallError` with a `FailureKind`.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx
import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.completion_usage import CompletionUsage

from agent.llm.errors import EndpointCallError
from agent.llm.settings import EndpointSettings

__all__ = ["ChatClient", "ClientReply", "OpenAIClient", "PromptMessage", "parse_retry_after"]

# Sent when an endpoint needs no key. Passing a value explicitly also stops the OpenAI SDK from
# falling back to $OPENAI_API_KEY, which must never leak to a third-party endpoint.
_NO_KEY = "not-needed"


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


class OpenAIClient:
    """The `openai` SDK configured explicitly (no default model, key or base URL is ever used)."""

    def __init__(self, endpoint: EndpointSettings) -> None:
        self._endpoint = endpoint
        self._http = httpx.Client(timeout=endpoint.timeout_seconds)
        api_key = endpoint.api_key.get_secret_value() if endpoint.api_key else _NO_KEY
        self._client = openai.OpenAI(
            base_url=endpoint.base_url,
            api_key=api_key,
            timeout=endpoint.timeout_seconds,
            max_retries=0,
            http_client=self._http,
        )

    def chat(self, messages: Sequence[PromptMessage]) -> ClientReply:
        wire: list[ChatCompletionMessageParam] = [
            {"role": m.role, "content": m.content}  # type: ignore[misc]
            for m in messages
        ]
        try:
            if self._endpoint.stream:
                return self._stream(wire)
            return _reply(self._complete(wire))
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

    def _complete(self, messages: list[ChatCompletionMessageParam]) -> ChatCompletion:
        endpoint = self._endpoint
        return self._client.chat.completions.create(
            model=endpoint.model,
            messages=messages,
            max_tokens=endpoint.max_completion_tokens,
            temperature=endpoint.temperature,
        )

    def _stream(self, messages: list[ChatCompletionMessageParam]) -> ClientReply:
        endpoint = self._endpoint
        stream = self._client.chat.completions.create(
            model=endpoint.model,
            messages=messages,
            max_tokens=endpoint.max_completion_tokens,
            temperature=endpoint.temperature,
            stream=True,
            stream_options={"include_usage": True},  # usage in the final chunk
        )
        pieces: list[str] = []
        usage: CompletionUsage | None = None
        chunks = 0
        with stream:
            for chunk in stream:
                chunks += 1
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta.content:
                        pieces.append(choice.delta.content)
        if not chunks:
            raise EndpointCallError("malformed", "empty stream")
        return ClientReply(
            text="".join(pieces),
            prompt_tokens=_int_or_none(usage.prompt_tokens if usage else None),
            completion_tokens=_int_or_none(usage.completion_tokens if usage else None),
        )

    def close(self) -> None:
        self._http.close()


def _reply(response: ChatCompletion) -> ClientReply:
    if not response.choices:
        raise EndpointCallError("malformed", "a chat completion without choices")
    usage = response.usage
    return ClientReply(
        text=response.choices[0].message.content or "",
        prompt_tokens=_int_or_none(usage.prompt_tokens if usage else None),
        completion_tokens=_int_or_none(usage.completion_tokens if usage else None),
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
