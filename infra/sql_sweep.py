"""Mark-and-sweep for the key-addressed tables of the state database.

Sentence vectors, injection-screen verdicts, PII findings and the chunk embedding cache are
rows under a content key, shared by every chunk with the same content and never deleted when
a chunk goes away (two chunks may share a row, so a delete at unindex time would need a
reference count). Instead `ingest.state_prune` marks the keys that the chunks in the index
use now (`LiveKeys`) and `sweep` deletes every other row of a table.

`LiveKeys` holds an 8-byte digest per key, not the key itself: 100,000 chunks give about two
million PII keys, 16 MB here against ~200 MB as Python strings. Two keys that share a digest
only keep a dead row alive; a live row is never deleted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import InstrumentedAttribute

__all__ = ["LiveKeys", "SweepCount", "sweep"]

_DELETE_BATCH = 500  # keys per DELETE ... IN (...), under every dialect's parameter limit


_HEX16 = re.compile(r"[0-9a-fA-F]{16}")


def _digest(key: str) -> int:
    """A key's first 64 bits when it starts with 16 hex digits (the tables' keys are SHA-256
    hex digests), else its 8-byte BLAKE2b digest: the same key always gets the same digest."""
    head = key[:16]
    if _HEX16.fullmatch(head):
        return int(head, 16)
    return int.from_bytes(
        hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    )


def _digests(keys: Iterable[str]) -> npt.NDArray[np.uint64]:
    """`_digest` of each key; a batch of hex keys in one `bytes.fromhex` call (which skips
    whitespace, hence the length check before trusting it)."""
    batch = list(keys)
    try:
        packed = bytes.fromhex("".join(k[:16] for k in batch))
    except ValueError:
        packed = b""
    if len(packed) == 8 * len(batch) and all(len(k) >= 16 for k in batch):
        return np.frombuffer(packed, dtype=">u8").astype(np.uint64)
    return np.fromiter((_digest(k) for k in batch), dtype=np.uint64, count=len(batch))


class LiveKeys:
    """The keys still in use, as 64-bit digests: `add` them a page at a time, then ask."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._parts: list[npt.NDArray[np.uint64]] = [_digests(keys)]
        self._sorted: npt.NDArray[np.uint64] | None = None

    def add(self, keys: Iterable[str]) -> None:
        self._parts.append(_digests(keys))
        self._sorted = None

    def __len__(self) -> int:
        return int(self._digests().size)

    def contains(self, keys: Sequence[str]) -> npt.NDArray[np.bool_]:
        """Per key: whether it is (or shares a digest with) a live key."""
        live = self._digests()
        probe = _digests(keys)
        if live.size == 0:
            return np.zeros(probe.size, dtype=np.bool_)
        at = np.minimum(np.searchsorted(live, probe), live.size - 1)
        found: npt.NDArray[np.bool_] = live[at] == probe
        return found

    def _digests(self) -> npt.NDArray[np.uint64]:
        if self._sorted is None:
            self._sorted = np.unique(np.concatenate(self._parts))
            self._parts = [self._sorted]
        return self._sorted


@dataclass(frozen=True)
class SweepCount:
    kept: int
    removed: int  # or, in a dry run, that would be removed

    def as_dict(self) -> dict[str, int]:
        return {"kept": self.kept, "removed": self.removed}


def sweep(
    engine: Engine,
    key: InstrumentedAttribute[str],
    live: LiveKeys,
    *,
    dry_run: bool = False,
    page: int = 5000,
) -> SweepCount:
    """Delete the rows of `key`'s table (`key`: its mapped primary-key column) whose key is
    not live, a page of keys at a time (keyset pagination, so the table is never read whole
    and writers are never blocked for long)."""
    if page < 1:
        raise ValueError(f"page must be >= 1, got {page}")
    kept = removed = 0
    last: str | None = None
    while True:
        query = select(key).order_by(key).limit(page)
        if last is not None:
            query = query.where(key > last)
        with engine.connect() as connection:
            keys = [str(k) for k in connection.scalars(query)]
        if not keys:
            return SweepCount(kept=kept, removed=removed)
        last = keys[-1]
        alive = live.contains(keys)
        dead = [k for k, is_live in zip(keys, alive, strict=True) if not is_live]
        kept += len(keys) - len(dead)
        removed += len(dead)
        if dead and not dry_run:
            with engine.begin() as connection:
                for start in range(0, len(dead), _DELETE_BATCH):
                    batch = dead[start : start + _DELETE_BATCH]
                    connection.execute(delete(key.class_).where(key.in_(batch)))
