"""`dialect_insert`: SQLAlchemy's INSERT with `ON CONFLICT` clauses for the engine's dialect.

The state database is SQLite by default and PostgreSQL in deployments; every store that writes
to it idempotently (sentence vectors and screens, PII findings, embeddings, answers) needs the
dialect's own `insert` construct for `on_conflict_do_nothing` / `on_conflict_do_update`. It lives
in the lowest layer so each of them can use it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["dialect_insert"]


def dialect_insert(engine: Engine, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An `INSERT` into `table` (a mapped class or a `Table`) that supports `ON CONFLICT`."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
