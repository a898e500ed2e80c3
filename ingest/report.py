"""What one sync of one source did, in a shape for people (progress) and machines (--json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["FailureEntry", "SourceReport", "SyncOutcome"]

SyncOutcome = Literal["succeeded", "partial", "failed"]


@dataclass(frozen=True)
class FailureEntry:
    key: str
    reason: str
    kind: Literal["failed", "quarantined"]


@dataclass
class SourceReport:
    source_id: str
    status: SyncOutcome = "succeeded"
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    acl_changed: int = 0
    quarantined: int = 0
    failed: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    chunks_written: int = 0
    sentence_chunks_embedded: int = 0  # chunks whose sentences were embedded for answering
    pii_segments_analysed: int = 0  # sentences whose PII findings were stored for masking
    orphans_removed: int = 0
    duration_seconds: float = 0.0
    deletions_skipped: str | None = None
    error: str | None = None
    failures: list[FailureEntry] = field(default_factory=list)

    def add_failure(self, key: str, reason: str, kind: Literal["failed", "quarantined"]) -> None:
        self.failures.append(FailureEntry(key=key, reason=reason, kind=kind))
        if kind == "quarantined":
            self.quarantined += 1
        else:
            self.failed += 1

    def finish(self) -> None:
        if self.error is not None:
            self.status = "failed"
        elif self.failures or self.deletions_skipped:
            self.status = "partial"
        else:
            self.status = "succeeded"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
