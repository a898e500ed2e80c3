"""The backend-neutral access filter a principal is compiled into, once per request.

`retrieval` translates it into the vector store's own filter language; the same object also
decides, in plain Python, whether one chunk's access list admits the principal.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

__all__ = ["AccessFilter"]


@dataclass(frozen=True)
class AccessFilter:
    """What a principal may read.

    A chunk is visible when all of these hold:
    - its source is not in `denied_sources` (and is in `allowed_sources`, when that is not None);
    - one of its `read` principals is in `holds`;
    - none of its `deny` principals is in `holds`.
    """

    holds: frozenset[str]
    denied_sources: frozenset[str] = frozenset()
    allowed_sources: frozenset[str] | None = None
    policy_version: str = ""

    def admits(self, *, source_id: str, read: Collection[str], deny: Collection[str]) -> bool:
        if source_id in self.denied_sources:
            return False
        if self.allowed_sources is not None and source_id not in self.allowed_sources:
            return False
        if any(p in self.holds for p in deny):
            return False
        return any(p in self.holds for p in read)
