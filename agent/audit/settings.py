"""`AuditSettings`: where the audit record lives, its outbox, and how long it is kept."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import make_url

from infra.cron import CronExpression

__all__ = ["AuditSettings"]


class AuditSettings(BaseModel):
    """Where the audit record lives and how long it is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(
        default="sqlite:///.proofdesk/audit.db",
        description="SQLAlchemy URL: SQLite file by default, postgresql+psycopg://… at scale",
    )
    db_schema: str | None = Field(
        default=None, description="PostgreSQL schema holding the audit tables (default: public)"
    )
    retention_days: int = Field(default=365, ge=1, description="Records older than this go")
    outbox: bool = Field(
        default=True,
        description="keep (masked) records the audit database could not take in a local file, "
        "and write them once it answers again; false: such a record is lost",
    )
    outbox_path: Path | None = Field(
        default=None,
        description="the outbox file (default: next to a SQLite audit database, else "
        ".proofdesk/audit-outbox.db)",
    )
    retry_seconds: float = Field(
        default=5.0, gt=0, description="how often the outbox is written to the audit database"
    )
    required: bool = Field(
        default=True,
        description="the server is not ready (/readyz 503) while the audit database is "
        "unreachable; false: ready, the records wait in the outbox",
    )
    retention_schedule: CronExpression | None = Field(
        default="0 4 * * *",
        description="cron: when the scheduler (the server's, or `proofdesk scheduler`) deletes "
        "records older than retention_days (`proofdesk retention`); null: never",
    )

    def outbox_file(self) -> Path:
        """`outbox_path`, or its default beside a SQLite audit database."""
        if self.outbox_path is not None:
            return self.outbox_path
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(f"{url.database}.outbox")
        return Path(".proofdesk/audit-outbox.db")
