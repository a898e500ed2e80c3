"""The approved sources and their sync jobs; starting a sync, or the state prune, needs the
admin scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import AdminIdentity, OperatorIdentity, SourceAdminDep
from api.errors import NotFoundError, error_responses
from api.schemas import (
    JobResponse,
    JobsResponse,
    PruneResponse,
    SourceResponse,
    SourcesResponse,
)
from ingest.sources import SOURCE_ID_PATTERN

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["sources"])

SourceId = Annotated[str, Path(pattern=SOURCE_ID_PATTERN, examples=["it-kb"])]
JobId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]


@router.get("/sources", summary="The approved sources", responses=error_responses(401, 403, 429))
def list_sources(_identity: OperatorIdentity, admin: SourceAdminDep) -> SourcesResponse:
    return SourcesResponse(sources=[SourceResponse.of(s) for s in admin.sources()])


@router.post(
    "/sources/{source_id}/sync",
    status_code=202,
    summary="Start re-indexing a source now (in the background)",
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
def start_sync(
    source_id: SourceId, _identity: AdminIdentity, admin: SourceAdminDep, response: Response
) -> JobResponse:
    job = admin.start_sync(source_id)
    response.headers["Location"] = f"/v1/jobs/{job.job_id}"
    return JobResponse.of(job)


@router.get("/jobs", summary="Recent sync jobs", responses=error_responses(401, 403, 422, 429))
def list_jobs(
    _identity: OperatorIdentity,
    admin: SourceAdminDep,
    source_id: Annotated[str | None, Query(pattern=SOURCE_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JobsResponse:
    return JobsResponse(
        jobs=[JobResponse.of(j) for j in admin.jobs(source_id=source_id, limit=limit)]
    )


@router.get("/jobs/{job_id}", summary="One sync job", responses=error_responses(401, 403, 404, 429))
def get_job(job_id: JobId, _identity: OperatorIdentity, admin: SourceAdminDep) -> JobResponse:
    job = admin.job(job_id)
    if job is None:
        raise NotFoundError("no such job", code="job_not_found")
    return JobResponse.of(job)


@router.post(
    "/state/prune",
    summary="Remove state rows that no chunk in the index uses (cached embeddings, sentence "
    "vectors, screen verdicts, PII findings)",
    responses=error_responses(401, 403, 409, 422, 429, 503),
)
def prune_state(
    _identity: AdminIdentity,
    admin: SourceAdminDep,
    dry_run: Annotated[
        bool, Query(description="count what would be removed; remove nothing")
    ] = False,
) -> PruneResponse:
    return PruneResponse.of(admin.prune(dry_run=dry_run))
