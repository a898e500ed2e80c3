"""Runs each source on its cron schedule, one run at a time per source."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from croniter import croniter

from ingest.jobs import SourceBusyError
from ingest.sources import SourceRegistry

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)

RunSource = Callable[[str], object]


class Scheduler:
    """Computes when each scheduled source is due and runs it through `run_source`.

    Cross-process exclusion comes from the source lease taken by `run_source`; a source that is
    busy elsewhere is skipped until its next due time.
    """

    def __init__(
        self,
        *,
        registry: SourceRegistry,
        run_source: RunSource,
        last_run: Callable[[str], datetime | None] = lambda _sid: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._run_source = run_source
        self._clock = clock
        now = clock()
        self._schedules = {s.id: s.schedule for s in registry.enabled() if s.schedule}
        # Resume from the recorded runs: a source never run, or whose due time passed while
        # no scheduler was running, is due now (once).
        self._next = {}
        for sid, expr in self._schedules.items():
            previous = last_run(sid)
            self._next[sid] = _next_after(expr, previous) if previous is not None else now

    def next_runs(self) -> dict[str, datetime]:
        return dict(self._next)

    def tick(self) -> list[str]:
        """Run every source that is due now; returns the ids that ran."""
        now = self._clock()
        ran: list[str] = []
        for source_id, due in sorted(self._next.items(), key=lambda kv: kv[1]):
            if due > now:
                continue
            # A run that was missed (machine asleep, long run) happens once, not once per miss.
            self._next[source_id] = _next_after(self._schedules[source_id], now)
            try:
                self._run_source(source_id)
                ran.append(source_id)
            except SourceBusyError as exc:
                log.warning("scheduled sync skipped: %s", exc)
            except Exception:
                log.exception("scheduled sync of %s failed", source_id)
        return ran

    def seconds_until_next(self) -> float:
        if not self._next:
            return 60.0
        return max(0.0, (min(self._next.values()) - self._clock()).total_seconds())

    def run_until(self, stop: threading.Event, *, max_wait: float = 30.0) -> None:
        """Loop until `stop` is set, sleeping on the event (so stopping is immediate)."""
        while not stop.is_set():
            self.tick()
            stop.wait(min(max_wait, self.seconds_until_next()))


def _next_after(expression: str, moment: datetime) -> datetime:
    nxt: datetime = croniter(expression, moment).get_next(datetime)
    return nxt
