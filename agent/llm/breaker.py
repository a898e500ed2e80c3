"""A per-endpoint circuit breaker: closed → open after N consecutive failures → half-open after a
cool-down (one trial call) → closed on success, open again on failure.

Why not pybreaker (1.4): its `CircuitBreaker.call` holds one lock for the whole guarded call, so
every request to an endpoint would be serialised behind the one in flight, and its clock is
`datetime.now()`, which tests cannot drive without sleeping. The state machine is a few lines;
here the lock only guards state changes, never the HTTP call, and the clock is injected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int,
        reset_timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._reset_timeout = reset_timeout_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._state == "open" and self._cooled_down():
                return "half_open"
            return self._state

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one trial call is let through."""
        with self._lock:
            if self._state == "open":
                if not self._cooled_down():
                    return False
                self._state = "half_open"
                self._trial_in_flight = False
            if self._state == "half_open":
                if self._trial_in_flight:
                    return False
                self._trial_in_flight = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._state = "closed"
            self._failures = 0
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_in_flight = False
            if self._state == "half_open" or self._failures >= self._threshold:
                self._state = "open"
                self._opened_at = self._clock()

    def record_neutral(self) -> None:
        """The call ended in a way that says nothing about the endpoint's health (e.g. HTTP 400)."""
        with self._lock:
            self._trial_in_flight = False

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self._reset_timeout
