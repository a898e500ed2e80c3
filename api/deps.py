"""`Annotated` dependency aliases: each route's signature lists what it needs.

The services come from the app's lifespan state (built once in `create_app`'s lifespan); this
module is the only place that reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.answers_api import AnswersApi
from api.auth import Identity, Scope
from api.chat import ChatApi
from api.errors import NotReadyError, PermissionDeniedError
from api.metrics import ApiMetrics
from api.openapi_access import BEARER_DESCRIPTION, BEARER_SCHEME, needs, scopes_text
from api.ports import PolicyAdmin, ReadinessProbe, SourceAdmin
from api.search import SearchApi
from api.services import ApiServices

__all__ = [
    "AdminIdentity",
    "AnswerReaderIdentity",
    "AnswersApiDep",
    "AppState",
    "ChatApiDep",
    "ChatIdentity",
    "CurrentIdentity",
    "MetricsDep",
    "OperatorIdentity",
    "PolicyAdminDep",
    "ReadinessDep",
    "SearchApiDep",
    "SourceAdminDep",
]


@dataclass(frozen=True)
class AppState:
    services: ApiServices
    chat_api: ChatApi
    answers_api: AnswersApi
    search_api: SearchApi


def _state(request: Request) -> AppState:
    return cast(AppState, request.state.proofdesk)


_bearer = HTTPBearer(auto_error=False, scheme_name=BEARER_SCHEME, description=BEARER_DESCRIPTION)


async def _identity(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_proofdesk_user: Annotated[
        str | None, Header(description="act_as keys: the end user the request is for")
    ] = None,
    x_proofdesk_groups: Annotated[
        str | None, Header(description="act_as keys: the end user's groups, comma-separated")
    ] = None,
) -> Identity:
    return _state(request).services.authenticator.authenticate(
        credentials.credentials if credentials else None,
        act_user=x_proofdesk_user,
        act_groups=x_proofdesk_groups,
    )


CurrentIdentity = Annotated[Identity, Depends(_identity)]


def _scoped(*scopes: Scope) -> Callable[[Request, Identity], Identity]:
    """An identity holding any of `scopes`, counted against its rate limits."""

    text = scopes_text(*scopes)
    if "chat" in scopes:
        text += " (an `act_as` key also names the end user: `X-Proofdesk-User`)"

    @needs(text)
    def dependency(request: Request, identity: CurrentIdentity) -> Identity:
        if not any(s in identity.scopes for s in scopes):
            raise PermissionDeniedError(f"this operation needs the '{'/'.join(scopes)}' scope")
        _state(request).services.rate_limiter.hit(client=identity.client, user=identity.asker)
        return identity

    return dependency


@needs(
    scopes_text("admin", "audit")
    + " (with scope `audit`, the identity's user must also be an auditor in the access policy)"
)
def _operator(request: Request, identity: CurrentIdentity) -> Identity:
    """An admin, or an auditor: the `audit` scope alone is not enough, the identity must run as
    a principal the policy makes an auditor (as on the rest of the audit surface)."""
    identity = _scoped("admin", "audit")(request, identity)
    if "admin" not in identity.scopes and not _state(request).services.authenticator.is_auditor(
        identity
    ):
        raise PermissionDeniedError(
            "this operation needs the 'admin' scope or the auditor role", code="not_an_auditor"
        )
    return identity


ChatIdentity = Annotated[Identity, Depends(_scoped("chat"))]
AnswerReaderIdentity = Annotated[Identity, Depends(_scoped("chat", "audit"))]
AdminIdentity = Annotated[Identity, Depends(_scoped("admin"))]
OperatorIdentity = Annotated[Identity, Depends(_operator)]


async def _chat_api(request: Request) -> ChatApi:
    return _state(request).chat_api


async def _answers_api(request: Request) -> AnswersApi:
    return _state(request).answers_api


async def _search_api(request: Request) -> SearchApi:
    return _state(request).search_api


async def _sources(request: Request) -> SourceAdmin:
    return _state(request).services.sources


async def _policy_admin(request: Request) -> PolicyAdmin:
    policy = _state(request).services.policy
    if policy is None:
        raise NotReadyError("this server cannot reload its policy", code="policy_unavailable")
    return policy


async def _readiness(request: Request) -> ReadinessProbe:
    return _state(request).services.readiness


async def _metrics(request: Request) -> ApiMetrics:
    return _state(request).services.metrics


ChatApiDep = Annotated[ChatApi, Depends(_chat_api)]
AnswersApiDep = Annotated[AnswersApi, Depends(_answers_api)]
SearchApiDep = Annotated[SearchApi, Depends(_search_api)]
SourceAdminDep = Annotated[SourceAdmin, Depends(_sources)]
ReadinessDep = Annotated[ReadinessProbe, Depends(_readiness)]
PolicyAdminDep = Annotated[PolicyAdmin, Depends(_policy_admin)]
MetricsDep = Annotated[ApiMetrics, Depends(_metrics)]
