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
from tests import network_guard
from tests.kb_index import KbIndex, build_kb_index

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


@pytest.fixture(autouse=True)
def _config_file_env_restored() -> Iterator[None]:
    """`api.settings.load_settings` records the settings file it found (./proofdesk.yaml, as a
    relative path) in PROOFDESK_CONFIG; a CLI test run in-process would hand it to the tests
    after it, which then look for it in their own working directory. Put it back."""
    before = os.environ.get("PROOFDESK_CONFIG")
    yield
    if before is None:
        os.environ.pop("PROOFDESK_CONFIG", None)
    else:
        os.environ["PROOFDESK_CONFIG"] = before


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder()


@pytest.fixture(scope="session")
def kb_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[KbIndex]:
    """The bundled sample knowledge base, ingested once with the real pipeline (shared)."""
    index = build_kb_index(tmp_path_factory.mktemp("kb-index"), embedder)
    yield index
    index.close()


POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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
