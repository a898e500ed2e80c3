"""A scripted OpenAI-compatible server on 127.0.0.1 (a real HTTP server on port 0) for tests.

It implements `POST /v1/chat/completions` (JSON, or SSE with `stream: true`) and
`GET /v1/models`. Each chat request takes the next scripted `Reply` from a queue (or asks the
`responder` callback when the queue is empty) and is recorded, so tests can assert what was sent
and how many requests (retries) arrived. A request with nothing scripted gets HTTP 500 and is
counted in `unscripted`.

    with ScriptedLLM() as llm:
        llm.script(Reply.error(500), Reply.answer("It is blue [1]."))
        ... point an endpoint at llm.base_url ...
        assert len(llm.chat_requests) == 2
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.llm.settings import EndpointSettings, RetrySettings
from agent.types import Evidence
from retrieval.records import ChunkRecord

__all__ = [
    "FAST_RETRY",
    "FakeClock",
    "RecordedRequest",
    "RecordingSleep",
    "Reply",
    "Responder",
    "ScriptedLLM",
    "endpoint_for",
    "make_evidence",
]

MODEL = "scripted-model"


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    status: int = 200
    content: str = ""
    usage: tuple[int, int] | None = (100, 20)  # (prompt, completion) tokens; None: omitted
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: bytes | None = None  # sent verbatim instead of a chat completion
    stall: threading.Event | None = None  # wait for it (bounded) before answering
    stall_timeout: float = 30.0

    @classmethod
    def answer(cls, text: str, *, prompt_tokens: int = 100, completion_tokens: int = 20) -> Reply:
        return cls(content=text, usage=(prompt_tokens, completion_tokens))

    @classmethod
    def answer_without_usage(cls, text: str) -> Reply:
        return cls(content=text, usage=None)

    @classmethod
    def error(cls, status: int, *, headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps({"error": {"message": f"scripted {status}", "type": "scripted"}})
        return cls(status=status, raw_body=body.encode(), headers=headers or {})

    @classmethod
    def rate_limited(cls, retry_after: str) -> Reply:
        return cls.error(429, headers={"Retry-After": retry_after})

    @classmethod
    def stalled(cls, release: threading.Event, text: str = "Too late [1].") -> Reply:
        """Answers only once `release` is set: longer than any client timeout in the tests."""
        return cls(content=text, stall=release)

    @classmethod
    def garbage(cls) -> Reply:
        return cls(raw_body=b"<html>this is not a chat completion</html>")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.body.get("messages", [])
        return messages

    def content_of(self, role: str) -> str:
        return "\n".join(str(m["content"]) for m in self.messages if m["role"] == role)


Responder = Callable[[RecordedRequest], Reply]


class ScriptedLLM:
    def __init__(self, *, model: str = MODEL, responder: Responder | None = None) -> None:
        self.model = model
        self.responder = responder
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._stalls: list[threading.Event] = []
        self.unscripted = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for event in self._stalls:
            event.set()  # release stalled handlers so they finish
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            for reply in replies:
                if reply.stall is not None:
                    self._stalls.append(reply.stall)
                self._queue.append(reply)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if r.path.endswith("/chat/completions")]

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def _next_reply(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            self._requests.append(request)
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return self.responder(request)
        with self._lock:
            self.unscripted += 1
        return None


def _handler_for(llm: ScriptedLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            if self.path.rstrip("/") != "/v1/models":
                self._send(404, _json_bytes({"error": {"message": "not found"}}))
                return
            self._send(200, _json_bytes({"object": "list", "data": [_model_entry(llm.model)]}))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = {"_unparsed": raw.decode("utf-8", "replace")}
            request = RecordedRequest(
                "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, _json_bytes({"error": {"message": "not found"}}))
                return
            reply = llm._next_reply(request)
            if reply is None:
                self._send(500, _json_bytes({"error": {"message": "nothing scripted"}}))
                return
            if reply.stall is not None:
                reply.stall.wait(reply.stall_timeout)
            try:
                if reply.raw_body is not None:
                    self._send(reply.status, reply.raw_body, reply.headers)
                elif body.get("stream"):
                    self._stream(reply, body)
                else:
                    self._send(reply.status, _json_bytes(_completion(llm.model, reply)))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout); nothing to answer

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            for chunk in _stream_chunks(llm.model, reply, include_usage=include_usage):
                self.wfile.write(b"data: " + _json_bytes(chunk) + b"\n\n")
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


def _json_bytes(value: object) -> bytes:
    return json.dumps(value).encode("utf-8")


def _model_entry(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "scripted"}


def _usage(reply: Reply) -> dict[str, int] | None:
    if reply.usage is None:
        return None
    prompt, completion = reply.usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(model: str, reply: Reply) -> dict[str, Any]:
    completion: dict[str, Any] = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": "stop",
            }
        ],
    }
    if (usage := _usage(reply)) is not None:
        completion["usage"] = usage
    return completion


def _stream_chunks(model: str, reply: Reply, *, include_usage: bool) -> Iterator[dict[str, Any]]:
    base = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
    }
    words = reply.content.split(" ")
    pieces = [
        " ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "")
        for i in range(0, len(words), 3)
    ]
    for index, piece in enumerate(pieces):
        delta: dict[str, str] = {"content": piece}
        if index == 0:
            delta["role"] = "assistant"
        yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if include_usage and (usage := _usage(reply)) is not None:
        yield {**base, "choices": [], "usage": usage}


def make_evidence(
    *texts: str, titles: tuple[str, ...] = (), flagged: tuple[int, ...] = ()
) -> list[Evidence]:
    """Numbered evidence (1, 2, …) over made-up chunks; `flagged` numbers are marked as
    suspected injections by ingestion."""
    evidence = []
    for number, text in enumerate(texts, start=1):
        title = titles[number - 1] if number <= len(titles) else f"Article {number}"
        chunk = ChunkRecord(
            chunk_id=f"chunk-{number}",
            document_id=f"doc-{number}",
            source_id="kb",
            title=title,
            heading_path=(title,),
            uri=f"file:///kb/doc-{number}.md",
            start=0,
            end=len(text),
            text=text,
            content_hash=f"hash-{number}",
            document_version=f"v-{number}",
            read=("public",),
            deny=(),
            doc_type="md",
            ordinal=0,
            injection_suspected=number in flagged,
        )
        evidence.append(Evidence(number=number, chunk=chunk, score=1.0 / number))
    return evidence


# -- settings and test doubles for scenarios against the scripted server ------------------------

FAST_RETRY = RetrySettings(
    backoff_initial_seconds=0.01,
    backoff_max_seconds=0.05,
    jitter_seconds=0.01,
    max_retry_after_seconds=2.0,
)


def endpoint_for(llm: ScriptedLLM, name: str, **overrides: Any) -> EndpointSettings:
    """An endpoint pointing at the scripted server (5 s timeout, 2 retries unless overridden)."""
    values: dict[str, Any] = {"timeout_seconds": 5.0, "max_retries": 2, **overrides}
    return EndpointSettings(name=name, base_url=llm.base_url, model=llm.model, **values)


class RecordingSleep:
    """Stands in for time.sleep in the gateway: records each backoff wait, returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeClock:
    """A monotonic clock the test moves by hand (breaker cool-downs, cache TTLs)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
