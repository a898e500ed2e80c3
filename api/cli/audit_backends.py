"""The two ways `proofdesk audit` reaches the reviews: directly, through a `ReviewService` built
from the settings, or through a running server's `/v1/audit` API. Both answer with the API's
response models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from agent.review.report import report_to_csv
from api.audit_schemas import (
    PickResponse,
    QueueItemResponse,
    QueueResponse,
    ReportResponse,
    ReviewItemResponse,
    ReviewRequest,
    ReviewResponse,
    SkipResponse,
)
from api.cli.common import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE
from policies.access.engine import PolicyEngine

if TYPE_CHECKING:  # loaded when a command runs, not for --help: the review service loads Presidio
    import httpx

    from agent.review.service import ReviewService

__all__ = [
    "AuditCliError",
    "Backend",
    "CliDeps",
    "DirectBackend",
    "HttpBackend",
    "State",
    "open_backend",
]

_M = TypeVar("_M", bound=BaseModel)


class AuditCliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class Backend(Protocol):
    def queue(self, limit: int) -> QueueResponse: ...
    def pick(self, answer_id: str) -> PickResponse: ...
    def item(self, answer_id: str) -> ReviewItemResponse: ...
    def review(self, answer_id: str, request: ReviewRequest) -> ReviewResponse: ...
    def skip(self, answer_id: str, reason: str) -> SkipResponse: ...
    def report(self, since: datetime | None, until: datetime | None) -> ReportResponse: ...
    def report_csv(self, since: datetime | None, until: datetime | None) -> str: ...


@dataclass
class CliDeps:
    """What direct mode is built from. The default builds both from the settings; tests pass
    their own as `obj` to the CLI runner."""

    service: Callable[[], ReviewService] | None = None
    policy: PolicyEngine | None = None


@dataclass
class State:
    deps: CliDeps
    server: str | None
    api_key: str | None
    user: str | None
    groups: list[str]
    config: Path | None
    closers: list[Callable[[], None]] = field(default_factory=list)


class DirectBackend:
    def __init__(self, service: ReviewService, policy: PolicyEngine, user: str, groups: list[str]):
        self._service = service
        self._auditor = policy.principal_for(user, groups)

    def queue(self, limit: int) -> QueueResponse:
        items = self._service.queue(self._auditor, limit=limit)
        return QueueResponse(items=[QueueItemResponse.model_validate(i) for i in items])

    def pick(self, answer_id: str) -> PickResponse:
        return PickResponse(
            answer_id=answer_id, picked_at=self._service.pick(answer_id, self._auditor)
        )

    def item(self, answer_id: str) -> ReviewItemResponse:
        return ReviewItemResponse.model_validate(self._service.item(answer_id, self._auditor))

    def review(self, answer_id: str, request: ReviewRequest) -> ReviewResponse:
        stored = self._service.review(
            answer_id,
            self._auditor,
            citation_verdicts=request.citation_verdicts,
            answer_verdict=request.answer_verdict,
            note=request.note,
        )
        return ReviewResponse.model_validate(stored)

    def skip(self, answer_id: str, reason: str) -> SkipResponse:
        return SkipResponse.model_validate(
            self._service.skip(answer_id, self._auditor, reason=reason)
        )

    def report(self, since: datetime | None, until: datetime | None) -> ReportResponse:
        built = self._service.report(self._auditor, since=since, until=until)
        return ReportResponse.model_validate(built)

    def report_csv(self, since: datetime | None, until: datetime | None) -> str:
        return report_to_csv(self._service.report(self._auditor, since=since, until=until))


class HttpBackend:
    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise AuditCliError(f"cannot reach the server: {exc}") from exc
        if response.is_success:
            return response
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        code = EXIT_NOT_FOUND if response.status_code == 404 else EXIT_FAILED
        raise AuditCliError(f"server said {response.status_code}: {message}", code)

    def _model(self, model: type[_M], method: str, url: str, **kwargs: Any) -> _M:
        response = self._call(method, url, **kwargs)
        try:
            return model.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise AuditCliError(f"unexpected answer from the server: {exc}") from exc

    def queue(self, limit: int) -> QueueResponse:
        return self._model(QueueResponse, "GET", "/v1/audit/queue", params={"limit": limit})

    def pick(self, answer_id: str) -> PickResponse:
        return self._model(PickResponse, "POST", "/v1/audit/picks", json={"answer_id": answer_id})

    def item(self, answer_id: str) -> ReviewItemResponse:
        return self._model(ReviewItemResponse, "GET", f"/v1/audit/answers/{answer_id}")

    def review(self, answer_id: str, request: ReviewRequest) -> ReviewResponse:
        body = request.model_dump(mode="json", exclude_none=True)
        url = f"/v1/audit/answers/{answer_id}/reviews"
        return self._model(ReviewResponse, "POST", url, json=body)

    def skip(self, answer_id: str, reason: str) -> SkipResponse:
        url = f"/v1/audit/answers/{answer_id}/skip"
        return self._model(SkipResponse, "POST", url, json={"reason": reason})

    def report(self, since: datetime | None, until: datetime | None) -> ReportResponse:
        return self._model(ReportResponse, "GET", "/v1/audit/report", params=_bounds(since, until))

    def report_csv(self, since: datetime | None, until: datetime | None) -> str:
        return self._call("GET", "/v1/audit/report.csv", params=_bounds(since, until)).text


def _bounds(since: datetime | None, until: datetime | None) -> dict[str, str]:
    return {k: v.isoformat() for k, v in (("since", since), ("until", until)) if v is not None}


def open_backend(state: State) -> Backend:
    if state.server is not None:
        if not state.api_key:
            raise AuditCliError("--server needs an API key (--api-key or PROOFDESK_API_KEY)", 2)
        headers = {"Authorization": f"Bearer {state.api_key}"}
        if state.user:
            headers["X-Proofdesk-User"] = state.user
            if state.groups:
                headers["X-Proofdesk-Groups"] = ",".join(state.groups)
        import httpx

        client = httpx.Client(base_url=state.server.rstrip("/"), headers=headers, timeout=60)
        state.closers.append(client.close)
        return HttpBackend(client)
    if not state.user:
        raise AuditCliError("name the auditor with --as USER, or use --server with a key", 2)
    if state.deps.service is None or state.deps.policy is None:
        state.deps = _deps_from_settings(state)
    assert state.deps.service is not None and state.deps.policy is not None
    return DirectBackend(state.deps.service(), state.deps.policy, state.user, state.groups)


def _deps_from_settings(state: State) -> CliDeps:
    """Direct mode's composition root: the audit store, the policy, the guard, and the index
    (opened only when a command shows or checks citations)."""
    from agent.review.service import ReviewService
    from agent.review.store import ReviewStore
    from api.bootstrap.components import Components
    from api.logging_setup import configure_logging, masking_guard
    from api.settings import ConfigFileError, load_settings
    from retrieval.store import VectorStore

    try:
        settings = load_settings(state.config)
    except ConfigFileError as exc:
        raise AuditCliError(str(exc), EXIT_USAGE) from exc
    except ValueError as exc:  # pydantic's ValidationError
        raise AuditCliError(f"invalid settings: {exc}", EXIT_USAGE) from exc
    review_settings = settings.review
    # Log records wait for the guard built below (spaCy loads once); warnings only, as before.
    masking = configure_logging(level="WARNING", settings=settings.logging, guard=None)
    # The index is opened only when a command shows or checks citations; the state database
    # is not opened at all (no precomputed findings).
    parts = Components(settings, findings=False)
    state.closers.append(parts.close)
    try:
        guard = parts.guard
    except BaseException:
        masking.use(masking_guard(settings.redaction.model_copy(update={"engine": "patterns"})))
        raise
    masking.use(guard)
    policy = parts.policy
    audit = parts.audit_store()
    state.closers.append(audit.close)

    def index() -> VectorStore:
        return parts.store

    service = ReviewService(
        audit=audit,
        reviews=ReviewStore(engine=audit.engine),
        index=index,
        policy=policy,
        guard=guard,
        settings=review_settings,
    )
    return CliDeps(service=lambda: service, policy=policy)
