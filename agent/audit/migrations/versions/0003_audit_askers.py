"""Who may read an answer back: the keyed pseudonym of its asker, one row per answer.

Revision ID: 0003_audit_askers
Revises: 0002_audit_reviews
Create Date: 2027-01-10

`GET /v1/answers/{id}` and answer feedback are served from the audit record (the API's own
answer store in the state database is gone). Append-only like the other audit tables: written
with the answer (or, on upgrade, for an answer the old store held), deleted only by retention.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_audit_askers"
down_revision: str | Sequence[str] | None = "0002_audit_reviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "audit_answer_askers"
_MESSAGE = "proofdesk audit records are append-only"
_UNLESS_RETENTION = "WHEN NOT EXISTS (SELECT 1 FROM audit_retention_grant)"


def _prefix() -> str:
    config = op.get_context().config
    schema = None if config is None else config.attributes.get("schema")
    return f'"{schema}".' if schema else ""


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
    prefix = _prefix()
    if op.get_bind().dialect.name == "postgresql":
        # The trigger function `audit_append_only()` comes with 0001_audit.
        op.execute(
            f"CREATE TRIGGER {_TABLE}_append_only BEFORE UPDATE OR DELETE ON {prefix}{_TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION {prefix}audit_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {_TABLE}_no_truncate BEFORE TRUNCATE ON {prefix}{_TABLE} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {prefix}audit_append_only()"
        )
        return
    op.execute(
        f"CREATE TRIGGER {_TABLE}_no_update BEFORE UPDATE ON {_TABLE} "
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
    )
    op.execute(
        f"CREATE TRIGGER {_TABLE}_no_delete BEFORE DELETE ON {_TABLE} {_UNLESS_RETENTION} "
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
    )


def downgrade() -> None:
    prefix = _prefix()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_append_only ON {prefix}{_TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_no_truncate ON {prefix}{_TABLE}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_no_delete")
    op.drop_index(f"ix_{_TABLE}_asker_pseudonym", _TABLE)
    op.drop_table(_TABLE)
