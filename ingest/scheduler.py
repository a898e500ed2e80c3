"""Runs each source on its cron schedule, one run at a time per source, and the maintenance
tasks (the state prune) on theirs."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter

from ingest.jobs import SourceBusyError
from ingest.sources import SourceRegistry

__all__ = ["ScheduledTask", "Scheduler"]

log = logging.getLogger(__name__)

RunSource = Callable[[str], object]


@dataclass(frozen=True)
class ScheduledTask:
    """A job that is not a source sync. Its name has a colon (`state:prune`), which no source
    id has, so the two never collide."""

    name: str
    schedule: str  # cron
    run: Callable[[], object]
    last_run: datetime | None = None


class Scheduler:
    """Computes when each scheduled source (and task) is due and runs it: a source through
    `run_source`, a task through its own `run`.

    Cross-process exclusion comes from the source lease taken by `run_source` (and by a task
    that needs it); a job that is busy elsewhere (SourceBusyError) is skipped until its next
    due time.
    """

    def __init__(
        self,
        *,
        registry: SourceRegistry,
        run_source: RunSource,
        last_run: Callable[[str], datetime | None] = lambda _sid: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tasks: Sequence[ScheduledTask] = (),
    ) -> None:
        self._clock = clock
        now = clock()
        self._schedules = {s.id: s.schedule for s in registry.enabled() if s.schedule}
        self._runs: dict[str, Callable[[], object]] = {
            sid: functools.partial(run_source, sid) for sid in self._schedules
        }
        # Resume from the recorded runs: a source never synced, or whose due time passed
        # while no scheduler was running, is due now (once).
        self._next: dict[str, datetime] = {}
        for sid, expr in self._schedules.items():
            previous = last_run(sid)
            self._next[sid] = _next_after(expr, previous) if previous is not None else now
        for task in tasks:
            if ":" not in task.name:
                raise ValueError(f"a task name needs a colon, got {task.name!r}")
            self._schedules[task.name] = task.schedule
            self._runs[task.name] = task.run
            # Maintenance never run waits for its first due time: not at every first start.
            self._next[task.name] = _next_after(task.schedule, task.last_run or now)

    def next_runs(self) -> dict[str, datetime]:
        return dict(self._next)

    def tick(self) -> list[str]:
        """Run every source and task that is due now; returns the names that ran."""
        now = self._clock()
        ran: list[str] = []
        for name, due in sorted(self._next.items(), key=lambda kv: kv[1]):
            if due > now:
                continue
            # A run that was missed (machine asleep, long run) happens once, not once per miss.
            self._next[name] = _next_after(self._schedules[name], now)
            try:
                self._runs[name]()
                ran.append(name)
            except SourceBusyError as exc:
                log.warning("scheduled run of %s skipped: %s", name, exc)
            except Exception:
                log.exception("scheduled run of %s failed", name)
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
