"""Alembic environment of the state database (run by `upgrade_state_db`, online only)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from infra.state_migrations import STATE_VERSION_TABLE

# Any constant other than the audit database's: replicas starting together migrate in turn.
_MIGRATION_LOCK_ID = 0x7064737461

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("the state migrations run from upgrade_state_db, given an engine")
if context.is_offline_mode():
    raise RuntimeError("the state migrations run online only (upgrade_state_db)")

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    context.configure(
        connection=connection,
        version_table=STATE_VERSION_TABLE,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
