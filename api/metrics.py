"""Prometheus metrics of the API, in a registry of its own (one per app).

Labels are closed sets only: method, route *template* (never the raw path), status, answer
status, limit kind, state table, maintenance task. Nothing a user typed or owns ever becomes a
label.

The same registry holds the answer pipeline's and ingestion's metrics (`agent.metrics`: tokens,
cost, step latencies, cache lookups, documents by outcome), the process's (`process_*`, Linux
only) and the interpreter's (`python_*`), and `proofdesk_build_info{version}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from agent.audit.outbox import AuditHealth
from agent.metrics import AgentMetrics
from api.retention import RetentionReport
from api.version import proofdesk_version
from ingest.state_prune import PruneReport

__all__ = ["CONTENT_TYPE_LATEST", "ApiMetrics"]

UNMATCHED_ROUTE = "<unmatched>"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        Info("proofdesk_build", "The running Proofdesk", registry=self.registry).info(
            {"version": proofdesk_version()}
        )
        self.agent = AgentMetrics(registry=self.registry)
        self.request_seconds = Histogram(
            "proofdesk_http_request_duration_seconds",
            "HTTP request latency by route template and status",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "proofdesk_answers",
            "Answers returned, by answer status",
            ["status"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "proofdesk_rate_limited_requests",
            "Requests refused by a rate limit",
            ["limit"],
            registry=self.registry,
        )
        self.sync_jobs = Counter(
            "proofdesk_sync_jobs_started",
            "Sync jobs started through the API",
            registry=self.registry,
        )

        self.state_rows_pruned = Counter(
            "proofdesk_state_rows_pruned",
            "State database rows the state prune removed, by table",
            ["table"],
            registry=self.registry,
        )
        self.retention_rows_deleted = Counter(
            "proofdesk_retention_rows_deleted",
            "Rows the retention job deleted, by what they were",
            ["kind"],
            registry=self.registry,
        )
        self.maintenance_last_success = Gauge(
            "proofdesk_maintenance_last_success_timestamp_seconds",
            "When a maintenance task (state:prune, audit:retention) last finished",
            ["task"],
            registry=self.registry,
        )
        self.audit_pending = Gauge(
            "proofdesk_audit_records_pending",
            "Audit records kept in the local outbox, not yet in the audit database",
            registry=self.registry,
        )
        self.audit_lost = Gauge(
            "proofdesk_audit_records_lost",
            "Audit records neither written nor kept, since the process started",
            registry=self.registry,
        )

    def observe_prune(self, report: PruneReport) -> None:
        if report.dry_run:
            return
        for table, count in report.tables.items():
            self.state_rows_pruned.labels(table).inc(count.removed)
        self.maintenance_last_success.labels("state:prune").set(time.time())

    def observe_retention(self, report: RetentionReport) -> None:
        counts: dict[str, int] = {}
        if report.audit is not None:
            counts |= {
                "audit_answers": report.audit.answers,
                "audit_citations": report.audit.citations,
                "audit_feedback": report.audit.feedback,
                "audit_reviews": report.audit.reviews,
            }
        for kind, count in counts.items():
            self.retention_rows_deleted.labels(kind).inc(count)
        self.maintenance_last_success.labels("audit:retention").set(time.time())

    def watch_audit(self, health: Callable[[], AuditHealth]) -> None:
        """Audit records waiting in the outbox, and lost, read from `health` at each scrape."""
        self.audit_pending.set_function(lambda: float(max(health().pending, 0)))
        self.audit_lost.set_function(lambda: float(health().lost))

    def observe_request(self, method: str, route: str | None, status: int, seconds: float) -> None:
        self.request_seconds.labels(method, route or UNMATCHED_ROUTE, str(status)).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
