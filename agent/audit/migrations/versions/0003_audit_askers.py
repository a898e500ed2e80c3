"""Who may read an answer back: the keyed pseudonym of its asker, one row per answer.

Revision ID: 0003_audit_askers
Revises: 0002_audit_reviews
Create Date: 2026-12-07

`GET /v1/answers/{id}` and answer feedback are served from the audit record (the API's own
answer store in the state database is gone). Append-only like the other audit tables: written
with the answer (or, on upgrade, for an answer the old store held), deleted only by retention.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agent.audit.migrations.append_only import protect, unprotect

revision: str = "0003_audit_askers"
down_revision: str | Sequence[str] | None = "0002_audit_reviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "audit_answer_askers"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column(
            "answer_id",
            sa.String(64),
            sa.ForeignKey("audit_answers.answer_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("asker_pseudonym", sa.String(80), nullable=False),
    )
    op.create_index(f"ix_{_TABLE}_asker_pseudonym", _TABLE, ["asker_pseudonym"])
    protect([_TABLE])


def downgrade() -> None:
    unprotect([_TABLE])
    op.drop_index(f"ix_{_TABLE}_asker_pseudonym", _TABLE)
    op.drop_table(_TABLE)
