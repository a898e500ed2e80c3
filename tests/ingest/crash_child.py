"""Run a sync in a child process and SIGKILL it at a chosen point (used by test_sync_crash).

Usage: python -m tests.ingest.crash_child TMP SOURCES_FILE MODE N
MODE: after-upsert (kill right after the N-th store upsert, before the state is recorded),
      after-batch (after the N-th batch is fully recorded), mid-scan (after N documents read).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from retrieval.embedding.embedder import SentenceTransformerEmbedder
from retrieval.records import ChunkRecord
from retrieval.store import VectorStore
from tests.fixtures.sync_sources import wire


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillAfterUpserts:
    """Delegates to the real store; SIGKILLs the process after the N-th upsert lands."""

    def __init__(self, inner: VectorStore, n: int) -> None:
        self._inner = inner
        self._left = n

    def upsert(self, chunks: Sequence[ChunkRecord], dense: Sequence[Sequence[float]]) -> None:
        self._inner.upsert(chunks, dense)
        self._left -= 1
        if self._left == 0:
            self._inner.flush()
            _die()

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def main(argv: list[str]) -> None:
    tmp, sources, mode, n = Path(argv[0]), Path(argv[1]), argv[2], int(argv[3])
    wrap = (lambda store: KillAfterUpserts(store, n)) if mode == "after-upsert" else None
    w = wire(tmp, sources, SentenceTransformerEmbedder(), batch_chunks=8, wrap_store=wrap)  # type: ignore[arg-type]
    seen = {"document": 0, "batch": 0}

    def progress(event: str, _count: int) -> None:
        seen[event] += 1
        if (mode == "after-batch" and event == "batch" and seen["batch"] == n) or (
            mode == "mid-scan" and event == "document" and seen["document"] == n
        ):
            _die()

    w.service.sync("it-kb", progress=progress)
    sys.exit(3)  # the kill point was never reached: the test must notice


if __name__ == "__main__":
    main(sys.argv[1:])
