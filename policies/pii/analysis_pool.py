"""`AnalysisPool`: PII analysis (spaCy NER and Presidio's recognizers) in worker processes.

A served API is one process (Qdrant Edge lets one process own the index), and most of what a
request runs holds Python's interpreter lock. Analysing the question a user wrote is the largest
share of that: about a quarter of a chat request's samples on the 10,000-chunk benchmark. In a
worker process it runs beside the request threads instead of taking turns with them, on the
machine's second core. The parent keeps the findings cache and the findings stored at ingest;
only what is analysed anew crosses to a worker (the text there, its findings' spans back).

A worker is `python -m policies.pii.analysis_worker`, started with the parent's import path and
talking over two private pipes (length-prefixed pickles; nothing else writes to them, so a
library printing to stdout cannot corrupt the exchange). It builds the analyzer from the same
`RedactionSettings`, so findings are identical to an in-process analysis. It never imports the
caller's `__main__` (as `multiprocessing` would), and exits when the parent closes its pipe or
dies. A worker that fails is replaced once per call; if the replacement fails too, the call
raises `PiiAnalysisError` and nothing is written unmasked (callers fail closed).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import BinaryIO

from policies.pii.settings import RedactionSettings
from policies.pii.types import PiiFinding

__all__ = ["AnalysisPool", "PiiAnalysisError", "read_frame", "write_frame"]

Findings = tuple[PiiFinding, ...]
_HEADER = struct.Struct("!I")
_READY = "ready"
_START_TIMEOUT_S = 300.0


class PiiAnalysisError(RuntimeError):
    """PII analysis could not run (its worker process failed to start, or died twice)."""


def write_frame(stream: BinaryIO, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: BinaryIO) -> object:
    """The next value, or raises EOFError when the other side has gone."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("analysis pipe closed")
    size = _HEADER.unpack(header)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("analysis pipe closed mid-frame")
    return pickle.loads(data)  # noqa: S301 - our own child process, over a private pipe


class _Worker:
    """One worker process and the two pipe ends the parent holds."""

    def __init__(self, settings: RedactionSettings) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [
                    sys.executable,
                    "-m",
                    "policies.pii.analysis_worker",
                    str(to_child_r),
                    str(from_child_w),
                ],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._requests: BinaryIO = os.fdopen(to_child_w, "wb")
        self._replies: BinaryIO = os.fdopen(from_child_r, "rb")
        try:
            write_frame(self._requests, settings)
            ready = read_frame(self._replies)
        except (EOFError, OSError) as exc:
            self.close()
            raise PiiAnalysisError(
                f"PII analysis worker did not start (exit code {self._process.poll()})"
            ) from exc
        if ready != _READY:
            self.close()
            raise PiiAnalysisError(f"PII analysis worker failed to start: {ready}")

    @property
    def pid(self) -> int:
        return self._process.pid

    def analyse(self, segments: list[str]) -> list[Findings]:
        """Raises EOFError/OSError when the process has gone."""
        write_frame(self._requests, segments)
        reply = read_frame(self._replies)
        if isinstance(reply, BaseException):
            raise reply
        assert isinstance(reply, list)
        return reply

    def close(self) -> None:
        for stream in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class AnalysisPool:
    """`processes` worker processes analysing text with the analyzer `settings` describe.

    Thread-safe: a call takes an idle worker (waiting for one when all are busy), so one worker
    serves one call at a time. Starting a pool waits until every worker has loaded its model.
    `close()` it on shutdown.
    """

    def __init__(self, *, settings: RedactionSettings, processes: int) -> None:
        if processes < 1:
            raise ValueError("an analysis pool needs at least one process")
        self._settings = settings.model_copy(update={"analysis_processes": 0})
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._closed = False
        try:
            for _ in range(processes):
                self._add(_Worker(self._settings))
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (for operators and tests)."""
        with self._lock:
            return [w.pid for w in self._workers]

    def analyse(self, segment: str) -> Findings:
        """The findings of one segment (offsets relative to it)."""
        return self.analyse_all([segment])[0]

    def analyse_all(self, segments: Sequence[str]) -> list[Findings]:
        """The findings of each segment, in order."""
        if not segments:
            return []
        batch = list(segments)
        for attempt in range(2):
            worker = self._take()
            try:
                found = worker.analyse(batch)
            except (EOFError, OSError) as exc:
                self._replace(worker)
                if attempt == 1:
                    raise PiiAnalysisError(f"PII analysis worker died: {exc}") from exc
                continue
            self._idle.put(worker)
            return found
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Stop the workers. Safe to call more than once."""
        with self._lock:
            self._closed, workers, self._workers = True, self._workers, []
        for worker in workers:
            worker.close()

    def _take(self) -> _Worker:
        while True:
            with self._lock:
                if self._closed or not self._workers:
                    raise PiiAnalysisError("the PII analysis pool is closed")
            try:
                return self._idle.get(timeout=1.0)
            except queue.Empty:
                continue

    def _add(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.append(worker)
        self._idle.put(worker)

    def _replace(self, dead: _Worker) -> None:
        with self._lock:
            if dead in self._workers:
                self._workers.remove(dead)
            closed = self._closed
        dead.close()
        if closed:
            raise PiiAnalysisError("the PII analysis pool is closed")
        try:
            self._add(_Worker(self._settings))
        except PiiAnalysisError:
            # Nothing replaces it: later calls use the other workers, or fail if none is left.
            with self._lock:
                if not self._workers:
                    self._closed = True
            raise
