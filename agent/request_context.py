"""The id of the request being served, in a context variable read by logs and traces.

The API's middleware opens `request_id_scope(...)` around each request; worker threads started
with `contextvars.copy_context()` (as FastAPI/Starlette do for sync handlers) see the same id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["current_request_id", "request_id_scope"]

_REQUEST_ID: ContextVar[str | None] = ContextVar("proofdesk_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request in progress, or None outside a request."""
    return _REQUEST_ID.get()


@contextmanager
def request_id_scope(request_id: str | None = None) -> Iterator[str]:
    """Set the request id (a new random one when None) for the duration of the block."""
    value = request_id or uuid.uuid4().hex
    token = _REQUEST_ID.set(value)
    try:
        yield value
    finally:
        _REQUEST_ID.reset(token)
