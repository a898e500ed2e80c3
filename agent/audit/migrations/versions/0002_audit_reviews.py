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

revision: str = "0002_audit_reviews"
down_revision: str | Sequence[str] | None = "0001_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("audit_review_picks", "audit_reviews", "audit_review_verdicts")
_MESSAGE = "proofdesk audit records are append-only"
_UNLESS_RETENTION = "WHEN NOT EXISTS (SELECT 1 FROM audit_retention_grant)"


def _prefix() -> str:
    config = op.get_context().config
    schema = None if config is None else config.attributes.get("schema")
    return f'"{schema}".' if schema else ""


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
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_table("audit_review_verdicts")
    op.drop_table("audit_reviews")
    op.drop_table("audit_review_picks")


def _create_append_only_triggers() -> None:
    prefix = _prefix()
    if op.get_bind().dialect.name == "postgresql":
        # The trigger function `audit_append_only()` comes with 0001_audit.
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
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
