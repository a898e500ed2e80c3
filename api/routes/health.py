"""Liveness, readiness and Prometheus metrics (no credentials: no user data in any of them)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import MetricsDep, ReadinessDep
from api.errors import NotReadyError, error_responses
from api.metrics import CONTENT_TYPE_LATEST
from api.schemas import HealthResponse, ReadinessResponse

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> HealthResponse:
    return HealthResponse()


@router.get(
    "/readyz",
    summary="Index open, policy loaded, model warmed up (else 503 with the reasons)",
    responses=error_responses(503),
)
def readyz(probe: ReadinessDep) -> ReadinessResponse:
    readiness = probe.readiness()
    if not readiness.ready:
        reasons = "; ".join(f"{k}: {v}" for k, v in readiness.checks.items() if v != "ok")
        raise NotReadyError(f"not ready: {reasons or 'starting'}")
    return ReadinessResponse(checks=dict(readiness.checks))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(registry: MetricsDep) -> Response:
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
