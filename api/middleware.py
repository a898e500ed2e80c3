"""ASGI middleware: request id, access log and metrics, body size limit, timeout, CORS.

Pure ASGI (no `BaseHTTPMiddleware`), so streaming responses pass through untouched. The
outermost layer also answers unhandled exceptions itself: Starlette's own 500 handler sits
outside every user middleware and would send a body without our shape or request id.
"""

from __future__ import annotations

import contextvars
import logging
import math
import re
import time
import uuid

import anyio
from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.api_settings import ApiSettings
from api.errors import RequestTimeoutError, RequestTooLargeError, error_response
from api.metrics import ApiMetrics

__all__ = [
    "REQUEST_ID_HEADER",
    "current_request_id",
    "install_middleware",
    "install_request_id_logging",
]

log = logging.getLogger("proofdesk.api")
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def current_request_id() -> str:
    return _request_id.get()


def install_request_id_logging() -> None:
    """Give every log record a `request_id` attribute (use `%(request_id)s` in formats)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_proofdesk_request_id", False):
        return

    def record_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = _request_id.get()
        return record

    record_factory._proofdesk_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record_factory)


class RequestContextMiddleware:
    """Request id on every response and log record; latency metric; access log; last-resort 500."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        status = 500
        started = False
        t0 = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.exception("unhandled error in %s %s", scope["method"], _route(scope))
            if not started:
                await error_response(exc)(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - t0
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            self.metrics.observe_request(method, _route(scope), status, seconds)
            log.info("%s %s %d %.1fms", method, _route(scope) or "-", status, seconds * 1000)
            _request_id.reset(token)


def _route(scope: Scope) -> str | None:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


class BodySizeLimitMiddleware:
    """413 for bodies over the limit: at once by Content-Length, or while a chunked body streams.

    Written here rather than FastAPI's `max_body_size` because that one answers a too-large
    Content-Length with a plain-text 413 from outside the user middleware (no request id, not
    the API's error body).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = RequestTooLargeError(f"the request body exceeds {self.max_bytes} bytes")
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await error_response(too_large)(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException is what FastAPI lets through from a body read (anything
                    # else becomes a 400); the API's handler gives it the error body.
                    raise HTTPException(413, too_large.message)
            return message

        await self.app(scope, limited_receive, send)


class TimeoutMiddleware:
    """504 when no response has started within the timeout (a started stream runs on).

    Blocking work must run in threads that can be abandoned (`anyio.to_thread.run_sync(...,
    abandon_on_cancel=True)`) for the timeout to answer on time.
    """

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        with anyio.CancelScope(deadline=anyio.current_time() + self.seconds) as cancel:

            async def send_marking_start(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                    cancel.deadline = math.inf
                await send(message)

            await self.app(scope, receive, send_marking_start)
        if cancel.cancelled_caught and not started:
            log.warning("request timed out after %.1fs", self.seconds)
            error = RequestTimeoutError(f"no response within {self.seconds:g} seconds")
            await error_response(error)(scope, receive, send)


def install_middleware(app: FastAPI, *, settings: ApiSettings, metrics: ApiMetrics) -> None:
    """Outermost first: request context, CORS, body size limit, timeout."""
    install_request_id_logging()
    app.add_middleware(TimeoutMiddleware, seconds=settings.request_timeout_seconds)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                REQUEST_ID_HEADER,
                "X-Proofdesk-User",
                "X-Proofdesk-Groups",
            ],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
