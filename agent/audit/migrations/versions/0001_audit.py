"""Audit record: answers, their citations, feedback; append-only triggers.

Revision ID: 0001_audit
Revises:
Create Date: 2025-01-01

UPDATE is refused on every audit table; DELETE only while the retention job holds a row in
`audit_retention_grant` inside its own transaction (other transactions never see that row).
This keeps the application honest cheaply; it is no defence against a database administrator.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_audit"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("audit_answers", "audit_citations", "audit_feedback")
_MESSAGE = "proofdesk audit records are append-only"
_UNLESS_RETENTION = "WHEN NOT EXISTS (SELECT 1 FROM audit_retention_grant)"


def _schema() -> str | None:
    config = op.get_context().config
    return None if config is None else config.attributes.get("schema")


def _prefix() -> str:
    schema = _schema()
    return f'"{schema}".' if schema else ""


def upgrade() -> None:
    op.create_table(
        "audit_answers",
        sa.Column("answer_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_pseudonym", sa.String(80), nullable=True),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("handoff_summary", sa.Text(), nullable=True),
        sa.Column("policy_version", sa.String(128), nullable=False),
        sa.Column("index_version", sa.String(128), nullable=False),
        sa.Column("composer", sa.String(200), nullable=False),
        sa.Column("prompt_id", sa.String(128), nullable=True),
        sa.Column("prompt_version", sa.String(64), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("timings_json", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("trace_id", sa.String(64), nullable=True),
        sa.Column("flags_json", sa.Text(), nullable=False),
        sa.Column("citation_count", sa.Integer(), nullable=False),
        sa.Column("min_support", sa.Float(), nullable=True),
    )
    op.create_index("ix_audit_answers_created_at", "audit_answers", ["created_at"])
    op.create_index("ix_audit_answers_status", "audit_answers", ["status"])
    op.create_index("ix_audit_answers_user_pseudonym", "audit_answers", ["user_pseudonym"])
    op.create_index("ix_audit_answers_conversation_id", "audit_answers", ["conversation_id"])
    op.create_table(
        "audit_citations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "answer_id",
            sa.String(64),
            sa.ForeignKey("audit_answers.answer_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("marker", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(512), nullable=False),
        sa.Column("document_version", sa.String(128), nullable=False),
        sa.Column("chunk_id", sa.String(256), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("span_start", sa.Integer(), nullable=False),
        sa.Column("span_end", sa.Integer(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("support", sa.Float(), nullable=False),
    )
    op.create_index("ix_audit_citations_answer_id", "audit_citations", ["answer_id"])
    op.create_index("ix_audit_citations_document_id", "audit_citations", ["document_id"])
    op.create_table(
        "audit_feedback",
        sa.Column("feedback_id", sa.String(36), primary_key=True),
        sa.Column(
            "answer_id",
            sa.String(64),
            sa.ForeignKey("audit_answers.answer_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_pseudonym", sa.String(80), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_feedback_answer_id", "audit_feedback", ["answer_id"])
    op.create_index("ix_audit_feedback_created_at", "audit_feedback", ["created_at"])
    op.create_table(
        "audit_retention_grant",
        sa.Column("token", sa.String(36), primary_key=True),
    )
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_table("audit_retention_grant")
    op.drop_table("audit_feedback")
    op.drop_table("audit_citations")
    op.drop_table("audit_answers")


def _create_append_only_triggers() -> None:
    prefix = _prefix()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION {prefix}audit_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM {prefix}audit_retention_grant) THEN
                    RETURN OLD;
                END IF;
                RAISE EXCEPTION '{_MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME;
            END
            $$
            """  # noqa: S608
        )
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {prefix}{table} "
                f"FOR EACH ROW EXECUTE FUNCTION {prefix}audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {prefix}{table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {prefix}audit_append_only()"
            )
        return
    for table in _TABLES:  # SQLite
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {_UNLESS_RETENTION} "
            f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )


def _drop_append_only_triggers() -> None:
    prefix = _prefix()
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {prefix}{table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {prefix}{table}")
        op.execute(f"DROP FUNCTION IF EXISTS {prefix}audit_append_only()")
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
