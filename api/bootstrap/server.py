"""The "server" builder: the API's services, their background start-up, tasks and readiness.

The cheap parts (policy, keys, limits, job records) are built at once and fail
the start-up when misconfigured; the index-bound parts start in the background
(`ServiceRuntime`), so the server answers `/readyz` (503 with reasons) while they load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from agent.review.service import ReviewService
from agent.review.store import ReviewStore
from api.api_settings import ApiSettings
from api.auth import ApiKeyStore, Authenticator, JwtVerifier
from api.bootstrap.answering import build_answer_pipeline
from api.bootstrap.components import Components
from api.bootstrap.index import (
    build_ingest,
    build_retrieval,
    maintenance_tasks,
    retention_tasks,
)
from api.metrics import ApiMetrics
from api.ratelimit import RateLimiter
from api.runtime import Engines, GatedChat, Progress, ServiceRuntime
from api.services import ApiServices, readiness_checks
from api.settings import Settings
from api.sync_jobs import SyncJobs
from ingest.jobs import JobStore
from ingest.scheduler import Scheduler

__all__ = ["build_services"]


def build_services(
    settings: Settings,
    api: ApiSettings,
    *,
    metrics: ApiMetrics | None = None,
) -> ApiServices:
    """Build the API's services; the index-bound ones start when `ApiServices.start` runs."""
    api.check_for(settings.environment)
    metrics = metrics or ApiMetrics()
    parts = Components(settings, served=True)
    try:
        return _build(parts, api, metrics)
    except BaseException:
        parts.close()
        raise


def _build(parts: Components, api: ApiSettings, metrics: ApiMetrics) -> ApiServices:
    settings = parts.settings
    policy = parts.policy
    authenticator = Authenticator(
        policy=policy,
        keys=ApiKeyStore.load(api.api_keys_file) if api.api_keys_file else ApiKeyStore(),
        jwt_verifier=JwtVerifier(api.jwt) if api.jwt.enabled else None,
        jwt_settings=api.jwt,
    )
    limiter = RateLimiter(
        settings=api.rate_limits,
        redis_url=api.redis_url.get_secret_value() if api.redis_url else None,
        on_limited=lambda kind: metrics.rate_limited.labels(kind).inc(),
    )
    # One guard (spaCy loads once) for the logs and the answer pipeline built with the index,
    # whose audit record keeps the answers askers read back.
    guard = parts.guard
    registry = parts.registry
    jobs = JobStore(engine=parts.state_engine, lease_seconds=settings.ingest.lease_seconds)
    jobs.abandon_stale()
    sync_lock = threading.Lock()

    def build(progress: Progress) -> Engines:
        if not parts.built("embedder"):  # loaded once, however often the index is retried
            progress("model", "loading")
            parts.embedder.embed_query("warm-up")  # the first query pays for lazy initialisation
            progress("model", "ok")
        return _build_engines(parts, api, lock=sync_lock, progress=progress, metrics=metrics)

    runtime = ServiceRuntime(
        build=build,
        checks=readiness_checks(policy, limiter),
        retry_seconds=api.store_retry_seconds,
        audit_required=settings.audit.required,
    )
    sync = SyncJobs(
        registry=registry,
        jobs=jobs,
        runner=runtime.runner,
        pruner=runtime.pruner,
        sync_lock=sync_lock,
        on_start=metrics.sync_jobs.inc,
        on_prune=metrics.observe_prune,
        on_report=metrics.agent.observe_ingest,
    )
    return ApiServices(
        authenticator=authenticator,
        rate_limiter=limiter,
        chat=GatedChat(runtime),
        records=runtime.audit,
        sources=sync,
        readiness=runtime,
        metrics=metrics,
        reviews=runtime.review,
        search=runtime.retrieval,
        policy=policy,
        guard=guard,
        on_start=[runtime.start],
        # The process's parts (the redactor's analysis workers, the masking worker, the policy,
        # the state engine) stop after the pipeline.
        on_close=[sync.close, runtime.close, parts.close],
    )


def _build_engines(
    parts: Components,
    api: ApiSettings,
    *,
    lock: threading.Lock,
    progress: Progress,
    metrics: ApiMetrics,
) -> Engines:
    settings = parts.settings
    progress("index", "opening")
    # StoreLockedError: the runtime retries
    ctx = build_ingest(parts)
    closers: list[Callable[[], None]] = [ctx.close]
    try:
        retrieval = build_retrieval(parts)
        pipeline = build_answer_pipeline(parts, retrieval=retrieval, metrics=metrics.agent)
        closers.append(pipeline.close)
    except BaseException:
        ctx.close()
        raise
    progress("index", "ok")
    audit = pipeline.audit  # the answer pipeline keeps the audit record
    review = ReviewService(
        audit=audit,
        reviews=ReviewStore(engine=audit.engine),
        index=lambda: ctx.store,
        policy=parts.policy,
        guard=pipeline.guard,
        settings=settings.review,
    )
    metrics.watch_audit(audit.health)
    runner = ctx.runner
    scheduler = None
    if api.run_scheduler:

        def run_source(source_id: str) -> object:
            with lock:
                result = runner.run(source_id, trigger="schedule")
            metrics.agent.observe_ingest(result.report)
            return result

        scheduler = Scheduler(
            registry=runner.service.registry,
            run_source=run_source,
            last_run=runner.jobs.last_started,
            tasks=[
                *maintenance_tasks(settings, ctx, lock=lock, on_done=metrics.observe_prune),
                *retention_tasks(
                    settings,
                    audit=audit,
                    jobs=runner.jobs,
                    on_done=metrics.observe_retention,
                ),
            ],
        )
    return Engines(
        chat=pipeline.service,
        runner=runner,
        pruner=ctx.pruner,
        scheduler=scheduler,
        closers=closers,
        audit=audit,
        review=review,
        retrieval=retrieval,
    )
