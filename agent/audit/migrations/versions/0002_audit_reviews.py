"""Citation audit reviews: auditors' picks, reviews and per-citation verdicts; append-only.

Revision ID: 0002_audit_reviews
Revises: 0001_audit
Create Date: 2026-03-01

The same rules as the audit record: UPDATE is refused on every review table, DELETE only while
the retention job holds its grant (a review goes with the answer it reviews: the foreign keys
cascade, and PostgreSQL's cascaded deletes pass the trigger because they run inside the
retention job's transaction).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agent.audit.migrations.append_only import protect, unprotect

revision: str = "0002_audit_reviews"
down_revision: str | Sequence[str] | None = "0001_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("audit_review_picks", "audit_reviews", "audit_review_verdicts")


def upgrade() -> None:
    op.create_table(
        "audit_review_picks",
        sa.Column("pick_id", sa.String(36), primary_key=True),
        sa.Column(
            "answer_id",
            sa.String(64),
            sa.ForeignKey("audit_answers.answer_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("picked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("auditor", sa.String(80), nullable=False),
    )
    op.create_index("ix_audit_review_picks_answer_id", "audit_review_picks", ["answer_id"])
    op.create_index("ix_audit_review_picks_picked_at", "audit_review_picks", ["picked_at"])
    op.create_table(
        "audit_reviews",
        sa.Column("review_id", sa.String(36), primary_key=True),
        sa.Column(
            "answer_id",
            sa.String(64),
            sa.ForeignKey("audit_answers.answer_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(80), nullable=False),
        sa.Column("answer_verdict", sa.String(40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_reviews_answer_id", "audit_reviews", ["answer_id"])
    op.create_index("ix_audit_reviews_created_at", "audit_reviews", ["created_at"])
    op.create_index("ix_audit_reviews_reviewer", "audit_reviews", ["reviewer"])
    op.create_table(
        "audit_review_verdicts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "review_id",
            sa.String(36),
            sa.ForeignKey("audit_reviews.review_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("marker", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(40), nullable=False),
    )
    op.create_index("ix_audit_review_verdicts_review_id", "audit_review_verdicts", ["review_id"])
    protect(_TABLES)


def downgrade() -> None:
    unprotect(_TABLES)
    op.drop_table("audit_review_verdicts")
    op.drop_table("audit_reviews")
    op.drop_table("audit_review_picks")
