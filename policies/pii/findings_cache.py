"""The in-memory findings cache: findings by salted text digest, never the text or a value.

The texts a helpdesk masks repeat (quotes and answer sentences come from indexed chunks), and
the NER model costs tens of milliseconds per kilobyte. Placeholders are still drawn per
`MaskingSession`, so caching changes no output.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from policies.pii.types import PiiFinding

__all__ = ["FindingsCache", "FindingsCacheInfo"]


@dataclass(frozen=True, slots=True)
class FindingsCacheInfo:
    """What the findings cache holds and how often it answered (for metrics and benchmarks)."""

    hits: int
    misses: int
    entries: int
    chars: int  # total length of the texts whose findings are held (the texts are not)


class FindingsCache:
    """An LRU of findings by text digest, bounded by entries and by the total length of the
    texts it covers. Thread-safe. A key is SHA-256 over a per-process random salt and the text,
    so neither the text nor a guess at it can be read back; a value holds spans only.

    Hand-written, not cachetools: it is bounded by entries *and* by characters at once, and a
    cachetools cache has one size measure."""

    def __init__(self, *, max_entries: int, max_chars: int) -> None:
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._salt = secrets.token_bytes(16)
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[tuple[PiiFinding, ...], int]] = OrderedDict()
        self._chars = 0
        self._hits = 0
        self._misses = 0

    @property
    def enabled(self) -> bool:
        return self._max_entries > 0 and self._max_chars > 0

    def key(self, text: str) -> bytes:
        return hashlib.sha256(self._salt + text.encode("utf-8", "surrogatepass")).digest()

    def get(self, key: bytes) -> tuple[PiiFinding, ...] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return found[0]

    def __contains__(self, key: bytes) -> bool:
        """Whether `key` is cached (not counted as a hit or a miss)."""
        with self._lock:
            return key in self._entries

    def put(self, key: bytes, findings: tuple[PiiFinding, ...], chars: int) -> None:
        if chars > self._max_chars // 8:  # one huge text must not flush everything else
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._chars -= previous[1]
            self._entries[key] = (findings, chars)
            self._chars += chars
            while len(self._entries) > self._max_entries or self._chars > self._max_chars:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._chars -= dropped

    def info(self) -> FindingsCacheInfo:
        with self._lock:
            return FindingsCacheInfo(
                hits=self._hits, misses=self._misses, entries=len(self._entries), chars=self._chars
            )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._chars = self._hits = self._misses = 0
