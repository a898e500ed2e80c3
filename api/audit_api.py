"""`/v1/audit/...`: citation audit reviews as JSON (and the report as CSV), for auditors' tools.

Every route needs the `audit` scope (API keys that hold it; tokens get it from the policy's
auditor role), and the service checks the auditor role itself: a key with the scope must also
run as a principal the policy makes an auditor. The app's lifespan puts an `AuditApp` in its
state under `AUDIT_STATE_KEY`; this module and `api.audit_web` are the only readers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.review.report import report_to_csv
from agent.review.service import ReviewService
from api.audit_schemas import (
    ANSWER_ID_PATTERN,
    PickRequest,
    PickResponse,
    QueueItemResponse,
    QueueResponse,
    ReportResponse,
    ReviewHistoryResponse,
    ReviewItemResponse,
    ReviewRequest,
    ReviewResponse,
    SkipRequest,
    SkipResponse,
)
from api.audit_sessions import AuditSessions
from api.auth import Authenticator, Identity
from api.errors import error_responses
from api.openapi_access import BEARER_DESCRIPTION, BEARER_SCHEME, needs, scopes_text
from api.ratelimit import RateLimiter

__all__ = [
    "AUDIT_STATE_KEY",
    "AuditApp",
    "AuditorIdentity",
    "ReviewServiceDep",
    "audit_state",
    "router",
]

AUDIT_STATE_KEY = "proofdesk_audit"


class AuditApp:
    """What the audit routes need (built in the app's lifespan).

    `reviews` returns the review service: the served app's exists once the index and the
    answer pipeline are up, and raises `NotReadyError` (503) until then.
    """

    def __init__(
        self,
        *,
        reviews: Callable[[], ReviewService],
        authenticator: Authenticator,
        rate_limiter: RateLimiter | None = None,
        sessions: AuditSessions | None = None,
    ) -> None:
        self._reviews = reviews
        self.authenticator = authenticator
        self.rate_limiter = rate_limiter
        self.sessions = sessions or AuditSessions()  # the audit page's sign-ins

    @property
    def review(self) -> ReviewService:
        return self._reviews()

    def require_auditor(self, identity: Identity) -> Identity:
        """The identity when it holds the `audit` scope (PermissionDeniedError otherwise);
        counted against its rate limits."""
        identity.require("audit")
        if self.rate_limiter is not None:
            self.rate_limiter.hit(client=identity.client, user=identity.asker)
        return identity


def audit_state(request: Request) -> AuditApp:
    return cast(AuditApp, getattr(request.state, AUDIT_STATE_KEY))


_bearer = HTTPBearer(auto_error=False, scheme_name=BEARER_SCHEME, description=BEARER_DESCRIPTION)


@needs(scopes_text("audit"))
def _auditor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_proofdesk_user: Annotated[str | None, Header()] = None,
    x_proofdesk_groups: Annotated[str | None, Header()] = None,
) -> Identity:
    state = audit_state(request)
    identity = state.authenticator.authenticate(
        credentials.credentials if credentials else None,
        act_user=x_proofdesk_user,
        act_groups=x_proofdesk_groups,
    )
    return state.require_auditor(identity)


def _review_service(request: Request) -> ReviewService:
    return audit_state(request).review


AuditorIdentity = Annotated[Identity, Depends(_auditor)]
ReviewServiceDep = Annotated[ReviewService, Depends(_review_service)]
AnswerIdPath = Annotated[str, Path(pattern=ANSWER_ID_PATTERN, examples=["9c348bf1df514cb9"])]
Since = Annotated[
    datetime | None, Query(description="answers given at or after (ISO 8601)", examples=[None])
]
Until = Annotated[datetime | None, Query(description="answers given before (ISO 8601)")]

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "/queue",
    summary="What to review next: picked, negatively rated, weakly supported, sampled answers",
    responses=error_responses(401, 403, 422, 429, 503),
)
def queue(
    identity: AuditorIdentity,
    review: ReviewServiceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> QueueResponse:
    items = review.queue(identity.principal, limit=limit)
    return QueueResponse(items=[QueueItemResponse.model_validate(i) for i in items])


@router.post(
    "/picks",
    status_code=201,
    summary="Put an answer in the review queue by id",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def pick(body: PickRequest, identity: AuditorIdentity, review: ReviewServiceDep) -> PickResponse:
    picked_at = review.pick(body.answer_id, identity.principal)
    return PickResponse(answer_id=body.answer_id, picked_at=picked_at)


@router.get(
    "/answers/{answer_id}",
    summary="An answer to review: masked texts, each citation's span in its chunk",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def item(
    answer_id: AnswerIdPath, identity: AuditorIdentity, review: ReviewServiceDep
) -> ReviewItemResponse:
    found = review.item(answer_id, identity.principal)
    return ReviewItemResponse.model_validate(found)


@router.get(
    "/answers/{answer_id}/reviews",
    summary="Every review of an answer, oldest first",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def history(
    answer_id: AnswerIdPath, identity: AuditorIdentity, review: ReviewServiceDep
) -> ReviewHistoryResponse:
    reviews = review.history(answer_id, identity.principal)
    return ReviewHistoryResponse(reviews=[ReviewResponse.model_validate(r) for r in reviews])


@router.post(
    "/answers/{answer_id}/reviews",
    status_code=201,
    summary="Review an answer: a verdict per citation, one for the answer, a note",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def add_review(
    answer_id: AnswerIdPath,
    body: ReviewRequest,
    identity: AuditorIdentity,
    review: ReviewServiceDep,
) -> ReviewResponse:
    stored = review.review(
        answer_id,
        identity.principal,
        citation_verdicts=body.citation_verdicts,
        answer_verdict=body.answer_verdict,
        note=body.note,
    )
    return ReviewResponse.model_validate(stored)


@router.post(
    "/answers/{answer_id}/skip",
    status_code=201,
    summary="Pass an answer on with a reason (e.g. every citation is restricted for you): it "
    "leaves your queue and goes to another auditor",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def skip(
    answer_id: AnswerIdPath, body: SkipRequest, identity: AuditorIdentity, review: ReviewServiceDep
) -> SkipResponse:
    skipped = review.skip(answer_id, identity.principal, reason=body.reason)
    return SkipResponse.model_validate(skipped)


@router.get(
    "/report",
    summary="Citation precision by source, week, model and prompt; agreement; worst sources",
    responses=error_responses(401, 403, 422, 429, 503),
)
def report(
    identity: AuditorIdentity, review: ReviewServiceDep, since: Since = None, until: Until = None
) -> ReportResponse:
    built = review.report(identity.principal, since=since, until=until)
    return ReportResponse.model_validate(built)


@router.get(
    "/report.csv",
    summary="The report's precision tables as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(401, 403, 422, 429, 503)},
)
def report_csv(
    identity: AuditorIdentity, review: ReviewServiceDep, since: Since = None, until: Until = None
) -> Response:
    built = review.report(identity.principal, since=since, until=until)
    return csv_response(report_to_csv(built))


def csv_response(body: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="citation-audit-report.csv"'},
    )
