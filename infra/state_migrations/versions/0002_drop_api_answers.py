"""The API's own answer store goes: answers and feedback live in the audit record.

Revision ID: 0002_drop_api_answers
Revises: 0001_state_baseline
Create Date: 2026-12-07

`GET /v1/answers/{id}` and feedback are served from the audit record. The old tables are
dropped only when empty: `proofdesk migrate` copies their rows into the audit record first
(`api.legacy_answers`); a start-up that finds rows refuses, and says to run it, rather than
lose a rating silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_drop_api_answers"
down_revision: str | Sequence[str] | None = "0001_state_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("pd_api_feedback", "pd_api_answers")
_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    connection = op.get_bind()
    present = set(sa.inspect(connection).get_table_names())
    tables = [name for name in _TABLES if name in present]
    meta = sa.MetaData()
    for name in tables:
        table = sa.Table(name, meta)
        rows = connection.scalar(sa.select(sa.func.count()).select_from(table))
        if rows:
            raise RuntimeError(
                f"the state database still holds the API's answers and feedback ({name}: {rows} "
                "rows): run `proofdesk migrate`, which copies them into the audit record first"
            )
    for name in tables:
        op.drop_table(name)


def downgrade() -> None:
    op.create_table(
        "pd_api_answers",
        sa.Column("answer_id", sa.String(64), primary_key=True),
        sa.Column("asker", sa.String(200), nullable=False, index=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("answer_json", sa.Text(), nullable=False),
    )
    op.create_table(
        "pd_api_feedback",
        sa.Column("feedback_id", sa.String(36), primary_key=True),
        sa.Column("answer_id", sa.String(64), nullable=False, index=True),
        sa.Column("asker", sa.String(200), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
    )
