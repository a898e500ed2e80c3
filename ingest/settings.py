"""Settings of the ingestion pipeline (one slice of the application settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from infra.cron import CronExpression
from ingest.formats.limits import ParseLimits

__all__ = ["IngestSettings"]


class IngestSettings(BaseModel):
    sources_file: Path = Field(default=Path("kb/sources.yaml"), description="approved sources")
    state_url: str = Field(
        default="sqlite:///.proofdesk/state.db",
        description="SQLAlchemy URL of the sync state, embedding cache and job records",
    )
    batch_chunks: int = Field(default=256, ge=1, description="chunks embedded and written together")
    chunk_target_tokens: int = Field(default=200, ge=32, le=254)
    chunk_overlap_sentences: int = Field(default=1, ge=0, le=5)
    flag_pii: bool = Field(default=True, description="flag chunks that contain PII (patterns)")
    precompute_pii: bool = Field(
        default=True,
        description="analyse every indexed sentence for PII once, at ingest, so masking "
        "answers and citations runs no NER per request",
    )
    parse_limits: ParseLimits = Field(
        default_factory=ParseLimits,
        description="bounds on what parsing one document may inflate, produce or take; a "
        "document over one is reported as failed and the rest of the source is synced",
    )
    lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="how long a lease (a sync's on its source, prune's, retention's) lasts "
        "unless its holder renews it (a heartbeat every third of it)",
    )
    prune_schedule: CronExpression | None = Field(
        default="30 3 * * *",
        description="cron: when the server's (or `proofdesk scheduler`'s) scheduler removes "
        "state rows no chunk in the index uses (`proofdesk prune`); null: never",
    )
