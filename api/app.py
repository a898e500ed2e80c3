"""`create_app`: the FastAPI application — routes, error handlers, middleware, and a lifespan that
builds the services from settings (or uses the ones given, in tests)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NoReturn

import anyio.to_thread
from fastapi import FastAPI

from api import audit_api, audit_web
from api.answers_api import AnswersApi
from api.api_settings import ApiSettings
from api.audit_api import AUDIT_STATE_KEY, AuditApp
from api.bootstrap.server import build_services
from api.chat import ChatApi
from api.deps import AppState
from api.docs_pages import install_docs
from api.errors import NotReadyError, install_error_handlers
from api.metrics import ApiMetrics
from api.middleware import install_middleware
from api.openapi_access import describe_access
from api.routes import answers, chat, health, policy, search, sources
from api.search import SearchApi
from api.services import ApiServices
from api.settings import Settings
from api.version import proofdesk_version

__all__ = ["create_app"]

_DESCRIPTION = """
Answers helpdesk questions **only** from approved, permission-checked sources. Every sentence of
an answer cites the exact passage it rests on, or the answer is a refusal.

Authenticate with `Authorization: Bearer <API key or JWT>`; each operation says what it needs.
An API key with the `act_as` scope names the end user of a chat request with `X-Proofdesk-User`
/ `X-Proofdesk-Groups` (on `/v1/chat/completions`, the OpenAI `user` field works too). Every
error has the body
`{"error": {"type", "code", "message"}}`; every response carries `X-Request-ID`.
"""


def create_app(
    settings: Settings,
    *,
    api_settings: ApiSettings | None = None,
    services: ApiServices | None = None,
) -> FastAPI:
    """The app. With `services`, those are used as they are (tests); otherwise the lifespan
    builds them from `settings` and closes them on shutdown."""
    api = api_settings or settings.api
    api.check_for(settings.environment)
    metrics = services.metrics if services is not None else ApiMetrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, object]]:
        if services is not None:
            built = services
        else:
            build = functools.partial(build_services, settings, api, metrics=metrics)
            built = await anyio.to_thread.run_sync(build)
        built.start()
        state = AppState(
            services=built,
            chat_api=ChatApi(
                chat=built.chat,
                metrics=built.metrics,
                authenticator=built.authenticator,
                max_question_chars=settings.agent.max_question_chars,
                max_messages=api.max_messages,
            ),
            answers_api=AnswersApi(records=built.records, reviews=built.reviews),
            search_api=SearchApi(
                retrieval=built.search or _no_search,
                source_ids=lambda: [s.id for s in built.sources.sources()],
                max_query_chars=settings.agent.max_question_chars,
            ),
        )
        lifespan_state: dict[str, object] = {"proofdesk": state}
        if built.reviews is not None:
            lifespan_state[AUDIT_STATE_KEY] = AuditApp(
                reviews=built.reviews,
                authenticator=built.authenticator,
                rate_limiter=built.rate_limiter,
            )
        try:
            yield lifespan_state
        finally:
            await anyio.to_thread.run_sync(built.close)

    app = FastAPI(
        title="Proofdesk",
        version=proofdesk_version(),
        summary="Cited answers from approved, permission-checked sources",
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # `install_docs`: the UI's assets come from this app, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json" if api.docs else None,
    )
    if api.docs:
        install_docs(app, openapi_url="/openapi.json")
    install_error_handlers(app)
    install_middleware(app, settings=api, metrics=metrics)
    for module in (health, chat, search, answers, sources, policy):
        app.include_router(describe_access(module.router))
    if services is None or services.reviews is not None:  # the citation audit, when offered
        app.include_router(describe_access(audit_api.router))
        app.include_router(audit_web.router)
    return app


def _no_search() -> NoReturn:
    raise NotReadyError(
        "search is not available: this server was built without a retrieval service",
        code="search_unavailable",
    )
