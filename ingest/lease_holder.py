"""Who holds a lease (host, process id, process start) and the heartbeat that renews it."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

__all__ = ["Heartbeat", "ProcessIdentity"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessIdentity:
    """A process on a host; `started` (its start time, where the OS tells it) tells a process
    apart from a later one that was given the same id."""

    host: str
    pid: int
    started: str | None = None

    @classmethod
    def current(cls) -> ProcessIdentity:
        pid = os.getpid()
        return cls(host=socket.gethostname(), pid=pid, started=process_started(pid))

    @property
    def name(self) -> str:
        return f"{self.host}:{self.pid}"

    @staticmethod
    def alive(pid: int, started: str | None) -> bool:
        """Whether process `pid` of this host runs, and is the one that started at `started`."""
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it exists, under another user
        return started is None or process_started(pid) in (started, None)


def process_started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux `/proc`), or None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    # The command name (field 2) may hold spaces and parentheses: fields count from its end.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


class Heartbeat:
    """Calls `renew` every `every` seconds on a daemon thread until `stop()`.

    A failed renewal (the database is briefly unreachable) is logged and tried again at the
    next beat; the lease lasts several beats, so one miss does not lose it.
    """

    def __init__(self, renew: Callable[[], int], *, every: float) -> None:
        self._renew = renew
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                if self._renew() == 0:
                    log.warning("a held lease was not renewed: it was taken over or released")
            except SQLAlchemyError as exc:
                log.warning("could not renew a lease: %s", type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
