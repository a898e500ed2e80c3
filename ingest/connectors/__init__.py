"""Connectors list an approved source's documents: a folder tree or a web site."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ingest.documents import FetchedDocument, FetchFailure

__all__ = ["Connector", "ListingTruncatedError", "SourceUnavailableError"]


class SourceUnavailableError(RuntimeError):
    """The source cannot be listed completely (missing root, unreachable site).

    What was yielded before it is still valid, but the listing is incomplete: the caller must
    not delete documents it did not see.
    """


class ListingTruncatedError(SourceUnavailableError):
    """The listing stopped at a configured limit (e.g. a crawl's max_pages) with more to see.

    Not an error of the source: what was listed is indexed, but nothing is deleted.
    """


class Connector(Protocol):
    """Lists one source's documents, one at a time."""

    def scan(self) -> Iterator[FetchedDocument | FetchFailure]:
        """Yield every document of the source, or why one could not be read.

        Raises `SourceUnavailableError` when the source cannot be listed completely.
        """
        ...
