"""Alembic environment of the audit database (run by `upgrade_audit_db`, online only)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from agent.audit.migrations import AUDIT_VERSION_TABLE

# Any constant: replicas starting together migrate one after the other (PostgreSQL).
_MIGRATION_LOCK_ID = 0x70726F6F66

config = context.config
schema: str | None = config.attributes.get("schema")
url = config.get_main_option("sqlalchemy.url")
if url is None:
    raise RuntimeError("the audit migration needs sqlalchemy.url")
if context.is_offline_mode():
    raise RuntimeError("the audit migrations run online only (upgrade_audit_db)")

engine = create_engine(url, poolclass=pool.NullPool)
if schema is not None:
    engine = engine.execution_options(schema_translate_map={None: schema})
try:
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            if schema is not None:
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        context.configure(
            connection=connection,
            version_table=AUDIT_VERSION_TABLE,
            version_table_schema=schema,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
finally:
    engine.dispose()
