"""The audit tables' append-only triggers, written once for every revision that adds tables.

UPDATE is refused on every audit table; DELETE only while the retention job holds a row in
`audit_retention_grant` inside its own transaction (other transactions never see that row).
On PostgreSQL one trigger function (`audit_append_only()`, created by `0001_audit`) serves
every table, TRUNCATE included; on SQLite each table gets two triggers.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op

__all__ = [
    "create_trigger_function",
    "drop_trigger_function",
    "protect",
    "schema_prefix",
    "unprotect",
]

MESSAGE = "proofdesk audit records are append-only"
_UNLESS_RETENTION = "WHEN NOT EXISTS (SELECT 1 FROM audit_retention_grant)"


def schema_prefix() -> str:
    """`"schema".` when the audit tables live in a PostgreSQL schema (`audit.db_schema`)."""
    config = op.get_context().config
    schema = None if config is None else config.attributes.get("schema")
    return f'"{schema}".' if schema else ""


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def create_trigger_function() -> None:
    """PostgreSQL's `audit_append_only()` (nothing to do on SQLite)."""
    if not _postgresql():
        return
    prefix = schema_prefix()
    op.execute(
        f"""
        CREATE FUNCTION {prefix}audit_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM {prefix}audit_retention_grant) THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION '{MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME;
        END
        $$
        """  # noqa: S608
    )


def drop_trigger_function() -> None:
    if _postgresql():
        op.execute(f"DROP FUNCTION IF EXISTS {schema_prefix()}audit_append_only()")


def protect(tables: Iterable[str]) -> None:
    """Make `tables` append-only (the retention job's grant excepted)."""
    prefix = schema_prefix()
    for table in tables:
        if _postgresql():
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {prefix}{table} "
                f"FOR EACH ROW EXECUTE FUNCTION {prefix}audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {prefix}{table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {prefix}audit_append_only()"
            )
            continue
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {_UNLESS_RETENTION} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def unprotect(tables: Iterable[str]) -> None:
    """Drop the triggers `protect` made on `tables`."""
    prefix = schema_prefix()
    for table in tables:
        if _postgresql():
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {prefix}{table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {prefix}{table}")
            continue
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
