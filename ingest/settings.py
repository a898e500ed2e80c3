"""Settings of the ingestion pipeline (one slice of the application settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from policies.cron import CronExpression

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
    lease_seconds: float = Field(default=3600.0, gt=0, description="a run's lease on its source")
    prune_schedule: CronExpression | None = Field(
        default="30 3 * * *",
        description="cron: when the server's (or `proofdesk scheduler`'s) scheduler removes "
        "state rows no chunk in the index uses (`proofdesk prune`); null: never",
    )
