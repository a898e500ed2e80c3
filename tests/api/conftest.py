"""API test fixtures: the app as `proofdesk serve` builds it, live on loopback (`served`,
`client`), and one raw API key per role (`keys`). The helpers live in tests/fixtures/."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from retrieval.embedding.embedder import Embedder
from tests.fixtures.credentials import Keys, make_keys
from tests.fixtures.served_app import ServedApp, start_served


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[ServedApp]:
    """One live served app for the session; tests that edit its policy put it back."""
    with start_served(tmp_path_factory.mktemp("served"), embedder) as app:
        yield app


@pytest.fixture
def client(served: ServedApp) -> Iterator[httpx.Client]:
    """An HTTP client on the shared served app."""
    with served.client() as http:
        yield http
