"""Fixtures of the retrieval tests: the store contract's embedded corpus (module-scoped)."""

from tests.fixtures.store_corpus import corpus

__all__ = ["corpus"]
