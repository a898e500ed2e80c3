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

from agent.audit.migrations.append_only import (
    create_trigger_function,
    drop_trigger_function,
    protect,
    unprotect,
)

revision: str = "0001_audit"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("audit_answers", "audit_citations", "audit_feedback")


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
    create_trigger_function()
    protect(_TABLES)


def downgrade() -> None:
    unprotect(_TABLES)
    drop_trigger_function()
    op.drop_table("audit_retention_grant")
    op.drop_table("audit_feedback")
    op.drop_table("audit_citations")
    op.drop_table("audit_answers")
