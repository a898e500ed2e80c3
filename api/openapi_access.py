"""What each operation needs, said in the OpenAPI document operation by operation.

The identity dependencies (`api.deps`, `api.audit_api`) are tagged with `needs(...)`; before a
router is included, `describe_access` finds each operation's tagged dependency and appends a
"**Needs:**" line to its description, so the text follows the code that enforces it. The one
bearer scheme then only says how to authenticate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

__all__ = ["BEARER_DESCRIPTION", "BEARER_SCHEME", "describe_access", "needs", "scopes_text"]

BEARER_SCHEME = "bearer"
BEARER_DESCRIPTION = (
    "`Authorization: Bearer <API key (pdk_…) or JWT>`. What each operation needs (an API key "
    "scope, or the role a JWT's user holds in the access policy) is in its description, under "
    "**Needs**."
)
_ATTRIBUTE = "__proofdesk_needs__"
_SCOPES = {
    "chat": "an API key with scope `chat`, or any valid JWT",
    "act_as": "an API key with scope `act_as`",
    "admin": "an API key with scope `admin`, or a JWT whose user holds `role:admin`",
    "audit": "an API key with scope `audit`, or a JWT whose user holds `role:auditor`",
}

F = TypeVar("F", bound=Callable[..., object])


def scopes_text(*scopes: str) -> str:
    """ "… or …" of what grants any of `scopes`."""
    return "; or ".join(_SCOPES.get(s, f"scope `{s}`") for s in scopes)


def needs(text: str) -> Callable[[F], F]:
    """Tag an identity dependency with what it requires (shown per operation)."""

    def tag(dependency: F) -> F:
        setattr(dependency, _ATTRIBUTE, text)
        return dependency

    return tag


def _needs(dependant: Dependant) -> str | None:
    text = getattr(dependant.call, _ATTRIBUTE, None)
    if isinstance(text, str):
        return text
    for sub in dependant.dependencies:
        found = _needs(sub)
        if found is not None:
            return found
    return None


def describe_access(router: APIRouter) -> APIRouter:
    """Append each authenticated operation's requirement to its OpenAPI description (call it
    before the router is included: an app copies its routes' descriptions then)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        text = _needs(route.dependant)
        if text is None or "**Needs:**" in route.description:
            continue
        route.description = f"{route.description}\n\n**Needs:** {text}.".strip()
    return router
