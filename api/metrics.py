"""Prometheus metrics of the API, in a registry of its own (one per app).

Labels are closed sets only: method, route *template* (never the raw path), status, answer
status, limit kind. Nothing a user typed or owns ever becomes a label.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "ApiMetrics"]

UNMATCHED_ROUTE = "<unmatched>"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
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

    def observe_request(self, method: str, route: str | None, status: int, seconds: float) -> None:
        self.request_seconds.labels(method, route or UNMATCHED_ROUTE, str(status)).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
