"""The state database's schema, managed by Alembic: `ensure_state_schema` brings a database to
the newest revision, once per engine and process, under a lock (PostgreSQL's advisory lock; a
lock file beside a SQLite file), so replicas or commands starting together migrate one after
the other. `proofdesk migrate` runs it on demand (and reports the revision).

The state database holds the ingest state (documents, their terms, the embedding cache, meta),
the sync jobs and source leases, the sentence vectors and screens, and the PII findings (the
API's answers and feedback, kept here until revision 0002, live in the audit record). Each store
declares its tables as SQLAlchemy models and calls `ensure_state_schema` instead of
`create_all`; the migrations here are the one way those tables change, and a test checks that
the migrated schema and the models agree.

A database created by a version before the migrations (tables from `create_all`, no version
table) is adopted by the baseline revision: it creates only the tables and columns missing.
A new revision is a new file in `versions/`, written by hand (`script.py.mako` is the template).
"""

from __future__ import annotations

import fcntl
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = [
    "STATE_VERSION_TABLE",
    "ensure_state_schema",
    "state_head_revision",
    "state_revision",
    "upgrade_state_db",
]

STATE_VERSION_TABLE = "pd_alembic_version"
_HERE = Path(__file__).resolve().parent
_done: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_done_lock = threading.Lock()
_in_process = threading.RLock()


def _config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def state_head_revision() -> str:
    """The newest revision this version of Proofdesk knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the baseline always exists
        raise RuntimeError("the state migrations have no head revision")
    return head


def state_revision(engine: Engine) -> str | None:
    """The revision the database at `engine` is at (None: never migrated)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": STATE_VERSION_TABLE}
        )
        return context.get_current_revision()


def upgrade_state_db(engine: Engine) -> str:
    """Bring the state tables at `engine` to the newest revision (`alembic upgrade head`), under
    the migration lock; returns the revision."""
    with _in_process, _file_lock(engine):  # Alembic's context is global to the process
        command.upgrade(_config(engine), "head")
    revision = state_revision(engine)
    if revision is None:  # pragma: no cover - upgrade always stamps
        raise RuntimeError("the state database was not stamped")
    return revision


def ensure_state_schema(engine: Engine) -> None:
    """`upgrade_state_db` once per engine in this process: what every store of the state
    database calls when it is built."""
    with _done_lock:
        if engine in _done:
            return
        _done[engine] = upgrade_state_db(engine)


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """A lock file beside a SQLite database file (PostgreSQL locks in `env.py`)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(f"{database}.migrate-lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
