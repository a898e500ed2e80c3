"""Fixtures of the ingest tests. The helpers live in tests/fixtures/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.web_site import Site, serve_site


@pytest.fixture
def site() -> Iterator[Site]:
    """A website on 127.0.0.1 for the web connector tests (test_sync_web has its own `site`)."""
    with serve_site() as served:
        yield served
