"""Shared fixtures. The embedding model is real and loaded once per test session."""

from __future__ import annotations

import logging
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from retrieval.embedding.embedder import Embedder, load_embedder
from tests.fixtures import network_guard
from tests.fixtures.databases import POSTGRES_URL
from tests.fixtures.kb_index import KbIndex, build_kb_index

network_guard.install()  # nothing in the tests reaches beyond 127.0.0.1 (see the module)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Every entry point installs its masked log handler on the root logger (api.logging_setup);
    a CLI test run in-process would leave it for the tests after it. Put the root back."""
    root = logging.getLogger()
    handlers, filters, level = list(root.handlers), list(root.filters), root.level
    yield
    root.handlers[:] = handlers
    root.filters[:] = filters
    root.setLevel(level)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder()


@pytest.fixture(scope="session")
def kb_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[KbIndex]:
    """The bundled sample knowledge base, ingested once with the real pipeline (shared)."""
    index = build_kb_index(tmp_path_factory.mktemp("kb-index"), embedder)
    yield index
    index.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database per test: SQLite in a temp dir, or a fresh schema on the PostgreSQL server
    (which must answer: the test fails, never skips, when it does not)."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'test.db'}")
        yield engine
        engine.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    engine = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def schema() -> Iterator[str]:
    """A schema name on the PostgreSQL server, dropped (if made) after the test."""
    name = f"outbox_test_{uuid.uuid4().hex[:12]}"
    yield name
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()
