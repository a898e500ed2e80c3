"""The state database as it stood when migrations began: ingest state, sync jobs and leases,
sentence vectors and screens, PII findings, the API's answers and feedback.

Revision ID: 0001_state_baseline
Revises:
Create Date: 2026-12-07

A database created before migrations (by `create_all`, without a version table) is adopted:
only the tables, indexes and columns it lacks are created (the source leases' holder columns
came after the table did).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_state_baseline"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)


def _tables() -> list[sa.Table]:
    """The baseline's tables, in creation order (on a metadata of their own)."""
    meta = sa.MetaData()
    return [
        sa.Table(
            "pd_documents",
            meta,
            sa.Column("document_id", sa.String(1024), primary_key=True),
            sa.Column("source_id", sa.String(64), nullable=False, index=True),
            sa.Column("key", sa.Text(), nullable=False),
            sa.Column("uri", sa.Text(), nullable=False),
            sa.Column("title", sa.Text(), nullable=False),
            sa.Column("doc_type", sa.String(16), nullable=False),
            sa.Column("version", sa.String(64), nullable=False),
            sa.Column("acl_hash", sa.String(64), nullable=False),
            sa.Column("read_json", sa.Text(), nullable=False),
            sa.Column("deny_json", sa.Text(), nullable=False),
            sa.Column("chunk_count", sa.Integer(), nullable=False),
            sa.Column("updated_at", _TZ, nullable=False),
        ),
        sa.Table(
            "pd_embedding_cache",
            meta,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("vector", sa.LargeBinary(), nullable=False),
        ),
        sa.Table(
            "pd_document_terms",
            meta,
            sa.Column("document_id", sa.String(1024), primary_key=True),
            sa.Column("terms_json", sa.Text(), nullable=False),
        ),
        sa.Table(
            "pd_meta",
            meta,
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text(), nullable=False),
        ),
        sa.Table(
            "pd_jobs",
            meta,
            sa.Column("job_id", sa.String(36), primary_key=True),
            sa.Column("source_id", sa.String(64), nullable=False, index=True),
            sa.Column("trigger", sa.String(16), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("started_at", _TZ, nullable=False, index=True),
            sa.Column("finished_at", _TZ, nullable=True),
            sa.Column("holder", sa.String(256), nullable=False),
            sa.Column("report_json", sa.Text(), nullable=True),
            sa.Column("error", sa.Text(), nullable=True),
        ),
        sa.Table(
            "pd_source_leases",
            meta,
            sa.Column("source_id", sa.String(64), primary_key=True),
            sa.Column("holder", sa.String(256), nullable=False),
            sa.Column("job_id", sa.String(36), nullable=False),
            sa.Column("expires_at", _TZ, nullable=False),
            sa.Column("host", sa.String(255), nullable=True),
            sa.Column("pid", sa.Integer(), nullable=True),
            sa.Column("process_started", sa.String(32), nullable=True),
        ),
        sa.Table(
            "sentence_vectors",
            meta,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("units", sa.Text(), nullable=False),
            sa.Column("vectors", sa.LargeBinary(), nullable=False),
        ),
        sa.Table(
            "sentence_screens",
            meta,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("screen", sa.String(64), nullable=False),
            sa.Column("flags", sa.Text(), nullable=False),
        ),
        sa.Table(
            "pii_findings",
            meta,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("findings", sa.Text(), nullable=False),
        ),
        sa.Table(
            "pd_api_answers",
            meta,
            sa.Column("answer_id", sa.String(64), primary_key=True),
            sa.Column("asker", sa.String(200), nullable=False, index=True),
            sa.Column("created_at", _TZ, nullable=False),
            sa.Column("answer_json", sa.Text(), nullable=False),
        ),
        sa.Table(
            "pd_api_feedback",
            meta,
            sa.Column("feedback_id", sa.String(36), primary_key=True),
            sa.Column("answer_id", sa.String(64), nullable=False, index=True),
            sa.Column("asker", sa.String(200), nullable=False),
            sa.Column("rating", sa.Integer(), nullable=False),
            sa.Column("comment", sa.Text(), nullable=True),
            sa.Column("created_at", _TZ, nullable=False),
        ),
    ]


def upgrade() -> None:
    connection = op.get_bind()
    inspector = sa.inspect(connection)
    existing = set(inspector.get_table_names())
    for table in _tables():
        name = table.name
        if name not in existing:
            table.create(connection)
            continue
        # Adopted from `create_all`: the nullable columns and the indexes it may lack.
        present = {column["name"] for column in inspector.get_columns(name)}
        for column in table.columns:
            if column.name not in present:
                if not column.nullable:
                    raise RuntimeError(f"{name} lacks the required column {column.name}")
                op.add_column(name, sa.Column(column.name, column.type, nullable=True))
        indexed = {index["name"] for index in inspector.get_indexes(name)}
        for index in table.indexes:
            if index.name not in indexed:
                index.create(connection)


def downgrade() -> None:
    for table in reversed(_tables()):
        op.drop_table(table.name)
