"""Every error the API answers with, and the one table mapping exceptions to HTTP statuses.

Domain exceptions (ingest, retrieval, policies, agent, the citation audit) know nothing of
HTTP; the API's own errors below say what went wrong, not which status it is. `_TABLE` is the
one place a status is chosen for them, and `install_error_handlers` registers it once for the
whole app (the JSON API, the audit API and the audit page's routes): a route raises the domain
error and never picks a status itself. `describe` turns any of them into the stable body
`{"error": {"type", "code", "message"}}` with a status and headers; the audit page renders the
same status and message as HTML (`api.audit_web`).

Configuration mistakes (`infra.errors.ConfigurationError`) are not in the table: they are found
at start-up and reported by the CLI, not answered to a request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.audit.store import UnknownAnswerError
from agent.review.types import InvalidReviewError, NotAnAuditorError
from agent.screening import InvalidQuestionError
from ingest.jobs import SourceBusyError
from ingest.sources import UnknownSourceError
from policies.access.engine import PolicyError
from policies.access.principal import InvalidPrincipalError
from retrieval.store import StoreError, StoreLockedError

__all__ = [
    "MAPPED_ERRORS",
    "ApiError",
    "AuthenticationError",
    "EndUserRequiredError",
    "ErrorDetail",
    "ErrorInfo",
    "ErrorResponse",
    "InvalidRequestError",
    "NotFoundError",
    "NotReadyError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "describe",
    "error_responses",
    "install_error_handlers",
]

log = logging.getLogger(__name__)

ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "conflict_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "unavailable_error",
    "timeout_error",
]


class ApiError(Exception):
    """An error of the API layer: a stable `code` and a message safe to show to the caller."""

    code = "api_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class AuthenticationError(ApiError):
    """No credentials, or credentials that do not identify anyone."""

    code = "invalid_credentials"


class PermissionDeniedError(ApiError):
    """A known identity without the scope the operation needs."""

    code = "missing_scope"


class NotFoundError(ApiError):
    """No such resource, or one the caller may not see (the two are indistinguishable)."""

    code = "not_found"


class InvalidRequestError(ApiError):
    """Well-formed JSON that the API still cannot act on (too long, no question, …)."""

    code = "invalid_request"


class EndUserRequiredError(InvalidRequestError):
    """A key with the `act_as` scope asked without naming the end user it acts for (400)."""

    code = "end_user_required"


class RequestTooLargeError(ApiError):
    code = "request_too_large"


class RateLimitedError(ApiError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)


class NotReadyError(ApiError):
    """The index, the model or the policy is not available (yet)."""

    code = "not_ready"


class RequestTimeoutError(ApiError):
    code = "request_timeout"


@dataclass(frozen=True)
class ErrorInfo:
    status: int
    type: ErrorType
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"type": self.type, "code": self.code, "message": self.message}}


# The one mapping of exceptions to statuses, most specific first.
# (exception, status, type, code; None: the exception's own code, message: None = str(exc))
_TABLE: tuple[tuple[type[Exception], int, ErrorType, str | None, str | None], ...] = (
    (AuthenticationError, 401, "authentication_error", None, None),
    (PermissionDeniedError, 403, "permission_error", None, None),
    (NotAnAuditorError, 403, "permission_error", "not_an_auditor", None),
    (NotFoundError, 404, "not_found_error", None, None),
    (UnknownAnswerError, 404, "not_found_error", "answer_not_found", "no such answer"),
    (UnknownSourceError, 404, "not_found_error", "unknown_source", None),
    (SourceBusyError, 409, "conflict_error", "source_busy", None),
    (RequestTooLargeError, 413, "request_too_large", None, None),
    (EndUserRequiredError, 400, "invalid_request_error", None, None),
    (InvalidRequestError, 422, "invalid_request_error", None, None),
    (InvalidQuestionError, 422, "invalid_request_error", None, None),
    (InvalidReviewError, 422, "invalid_request_error", "invalid_review", None),
    (
        InvalidPrincipalError,
        422,
        "invalid_request_error",
        "invalid_principal",
        "not a valid user id or group name",
    ),
    (RateLimitedError, 429, "rate_limit_error", None, None),
    (NotReadyError, 503, "unavailable_error", None, None),
    (
        StoreLockedError,
        503,
        "unavailable_error",
        "store_locked",
        "the index is held by another process",
    ),
    (StoreError, 503, "unavailable_error", "store_unavailable", "the index is not available"),
    (PolicyError, 503, "unavailable_error", "policy_unavailable", "the access policy failed"),
    (RequestTimeoutError, 504, "timeout_error", None, None),
)

# Every exception type that has a status of its own (the audit page catches exactly these).
MAPPED_ERRORS: tuple[type[Exception], ...] = tuple(row[0] for row in _TABLE)

_HTTP_STATUS: dict[int, tuple[ErrorType, str]] = {
    400: ("invalid_request_error", "bad_request"),
    401: ("authentication_error", "invalid_credentials"),
    403: ("permission_error", "forbidden"),
    404: ("not_found_error", "route_not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    406: ("invalid_request_error", "not_acceptable"),
    413: ("request_too_large", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    422: ("invalid_request_error", "validation_failed"),
    429: ("rate_limit_error", "rate_limited"),
    503: ("unavailable_error", "unavailable"),
}


def describe(exc: BaseException) -> ErrorInfo:
    """The status, stable body and headers for any exception (unknown ones are a 500)."""
    if isinstance(exc, RequestValidationError):
        return ErrorInfo(422, "invalid_request_error", "validation_failed", _validation(exc))
    if isinstance(exc, StarletteHTTPException):
        type_, code = _HTTP_STATUS.get(exc.status_code, ("api_error", "http_error"))
        return ErrorInfo(exc.status_code, type_, code, str(exc.detail), dict(exc.headers or {}))
    for exc_type, status, kind, fixed_code, message in _TABLE:
        if isinstance(exc, exc_type):
            own_code = getattr(exc, "code", None)
            own_code = own_code if isinstance(own_code, str) else "error"
            headers: dict[str, str] = {}
            if isinstance(exc, AuthenticationError):
                headers["WWW-Authenticate"] = "Bearer"
            if isinstance(exc, RateLimitedError):
                headers["Retry-After"] = str(exc.retry_after)
            if isinstance(exc, NotReadyError):
                headers["Retry-After"] = "5"
            text = message or (exc.message if isinstance(exc, ApiError) else str(exc))
            return ErrorInfo(status, kind, fixed_code or own_code, text, headers)
    return ErrorInfo(500, "api_error", "internal_error", "internal server error")


def _validation(exc: RequestValidationError) -> str:
    # Never echo the input: it may hold personal data.
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def error_response(exc: BaseException) -> JSONResponse:
    info = describe(exc)
    if info.status >= 500 and not isinstance(exc, NotReadyError):  # the runtime logs changes
        log.warning("%s (%d %s): %s", type(exc).__name__, info.status, info.code, exc)
    return JSONResponse(info.body(), status_code=info.status, headers=dict(info.headers))


async def _handle(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


def install_error_handlers(app: FastAPI) -> None:
    """Route every known exception through `describe`; the catch-all 500 is in middleware."""
    handled: set[type[Exception]] = {RequestValidationError, StarletteHTTPException}
    handled.update(MAPPED_ERRORS)
    for exc_type in handled:
        app.add_exception_handler(exc_type, _handle)


class ErrorDetail(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"type": "rate_limit_error", "code": "rate_limited", "message": "slow down"}
            ]
        }
    )
    type: str = Field(description="category, e.g. authentication_error, rate_limit_error")
    code: str = Field(description="stable machine-readable code, e.g. missing_scope")
    message: str = Field(description="for people; never echoes the request's content")


class ErrorResponse(BaseModel):
    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Malformed request body (not decodable)",
    401: "No or invalid credentials",
    403: "The identity lacks the scope",
    404: "Not found (or not visible to the caller)",
    409: "Conflict (the source is already syncing)",
    413: "Request body too large",
    422: "Invalid request",
    429: "Rate limited (see Retry-After)",
    503: "Not ready (index, model or policy unavailable)",
    504: "Timed out",
}


def error_responses(*statuses: int, by_reference: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error statuses.

    `by_reference`: for routes whose own response class is not JSON (event streams), where
    FastAPI would file a `model` under the route's media type; the schema is registered by
    the JSON routes.
    """
    chosen: Iterable[int] = statuses or tuple(_DESCRIPTIONS)
    if 401 in statuses and 400 not in statuses:
        # every authenticated route: an act_as key that names groups but no end user is a 400
        chosen = (400, *statuses)
    if by_reference:
        ref = {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
        return {
            s: {"description": _DESCRIPTIONS[s], "content": {"application/json": ref}}
            for s in chosen
        }
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS[s]} for s in chosen}
