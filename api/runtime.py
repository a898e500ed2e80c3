"""`ServiceRuntime`: the index-bound services, built in the background, and their readiness.

Loading the model and opening the index take seconds, and the index may be held by another
process (Qdrant Edge: one process at a time). The server starts at once and answers 503 with
the reason until they are ready — never a hang — and keeps retrying a locked index and an
unreachable database (the audit or state database down at start). Readiness names what is
wrong, never a host, port or driver message: those go to the server log.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from agent.audit.store import AuditStore
from agent.review.service import ReviewService
from agent.types import Answer
from api.errors import NotReadyError
from api.ports import ChatService, Readiness
from ingest.runner import SyncRunner
from ingest.scheduler import Scheduler
from ingest.state_prune import StatePruner
from policies.access.principal import Principal
from retrieval.service import RetrievalService
from retrieval.store import StoreLockedError

__all__ = ["Engines", "Progress", "ServiceRuntime"]

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]  # (component, "ok" or what it is doing / why not)


@dataclass
class Engines:
    """What the background start-up builds."""

    chat: ChatService
    runner: SyncRunner | None = None
    pruner: StatePruner | None = None  # the state database's mark-and-sweep
    scheduler: Scheduler | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    audit: AuditStore | None = None  # the answer pipeline's audit record, when it keeps one
    review: ReviewService | None = None  # citation audit reviews over that record
    retrieval: RetrievalService | None = None  # what chat retrieves with (`/v1/search` too)


class ServiceRuntime:
    def __init__(
        self,
        *,
        build: Callable[[Progress], Engines],
        checks: Mapping[str, Callable[[], str]] | None = None,
        retry_seconds: float = 10.0,
        components: tuple[str, ...] = ("model", "index"),
        audit_required: bool = True,
    ) -> None:
        """`audit_required`: not ready while the audit database is unreachable (else ready,
        the records waiting in the audit outbox)."""
        self._build = build
        self._audit_required = audit_required
        self._checks = dict(checks or {})
        self._retry = retry_seconds
        self._status: dict[str, str] = dict.fromkeys(components, "starting")
        self._engines: Engines | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._reported: tuple[bool, tuple[tuple[str, str], ...]] | None = None

    # -- life cycle

    def start(self) -> None:
        self._spawn(self._start_up, "proofdesk-startup")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _progress(self, component: str, status: str) -> None:
        with self._lock:
            self._status[component] = status

    def _start_up(self) -> None:
        while not self._stop.is_set():
            try:
                engines = self._build(self._progress)
            except StoreLockedError as exc:
                log.warning("index busy, retrying in %gs: %s", self._retry, exc)
                self._progress("index", f"held by another process; retrying every {self._retry:g}s")
                self._stop.wait(self._retry)
                continue
            except OperationalError as exc:  # a database is down: it may come back
                log.warning("a database is unreachable, retrying in %gs: %s", self._retry, exc)
                self._progress(
                    "startup", f"a database is unreachable; retrying every {self._retry:g}s"
                )
                self._stop.wait(self._retry)
                continue
            except Exception as exc:
                log.exception("start-up failed")
                self._progress(
                    "startup", f"failed: {type(exc).__name__} (the server log has the details)"
                )
                return
            if self._stop.is_set():  # closed while starting: nobody else will close them
                _close_all(engines.closers)
                return
            with self._lock:
                self._engines = engines
                self._status = dict.fromkeys(self._status, "ok")
            self._ready.set()
            log.info("ready")
            if engines.scheduler is not None:
                run = functools.partial(engines.scheduler.run_until, self._stop)
                self._spawn(run, "proofdesk-scheduler")
            return

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def close(self, timeout: float = 60.0) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        with self._lock:
            engines, self._engines = self._engines, None
        self._ready.clear()
        if engines is not None:
            _close_all(engines.closers)

    # -- what the API uses

    def engines(self) -> Engines:
        engines = self._engines
        if engines is None:
            raise NotReadyError(f"not ready: {self._reasons()}")
        return engines

    def review(self) -> ReviewService:
        review = self.engines().review
        if review is None:
            raise NotReadyError(
                "citation audit reviews are not available: this server's chat service keeps no "
                "audit record",
                code="audit_unavailable",
            )
        return review

    def audit(self) -> AuditStore:
        """The audit record: the answers askers read back and rate."""
        audit = self.engines().audit
        if audit is None:
            raise NotReadyError(
                "answers are not kept: this server's chat service keeps no audit record",
                code="answers_unavailable",
            )
        return audit

    def retrieval(self) -> RetrievalService:
        retrieval = self.engines().retrieval
        if retrieval is None:
            raise NotReadyError(
                "search is not available: this server's chat service retrieves on its own",
                code="search_unavailable",
            )
        return retrieval

    def runner(self) -> SyncRunner:
        runner = self.engines().runner
        if runner is None:
            raise NotReadyError("this server does not run syncs", code="sync_unavailable")
        return runner

    def pruner(self) -> StatePruner:
        pruner = self.engines().pruner
        if pruner is None:
            raise NotReadyError("this server does not prune", code="prune_unavailable")
        return pruner

    def readiness(self) -> Readiness:
        with self._lock:
            checks = dict(self._status)
        for name, check in self._checks.items():
            checks[name] = check()
        engines = self._engines
        advisory = set()
        if engines is not None and engines.audit is not None:
            health = engines.audit.health()
            checks["audit"] = health.summary()
            if not self._audit_required and health.pending >= 0:
                advisory.add("audit")  # records wait in the outbox: still ready
        ready = engines is not None and all(
            v == "ok" for k, v in checks.items() if k not in advisory
        )
        self._log_change(ready, checks)
        return Readiness(ready=ready, checks=checks)

    def _log_change(self, ready: bool, checks: Mapping[str, str]) -> None:
        """Readiness is polled every few seconds: log when it changes, not each poll."""
        state = (ready, tuple(sorted((k, v) for k, v in checks.items() if v != "ok")))
        with self._lock:
            changed, self._reported = state != self._reported, state
        if not changed:
            return
        if ready:
            log.info("readiness: ready")
        else:
            reasons = "; ".join(f"{k}: {v}" for k, v in state[1]) or "starting"
            log.warning("readiness: not ready: %s", reasons)

    def _reasons(self) -> str:
        checks = self.readiness().checks
        return "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok") or "starting"


class GatedChat:
    """The `ChatService` of the runtime: 503 (`NotReadyError`) until the engines are up."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    def answer(
        self,
        question: str,
        *,
        principal: Principal,
        conversation_id: str | None = None,
        owner: str | None = None,
    ) -> Answer:
        chat = self._runtime.engines().chat
        return chat.answer(
            question, principal=principal, conversation_id=conversation_id, owner=owner
        )


def _close_all(closers: list[Callable[[], None]]) -> None:
    for close in reversed(closers):
        try:
            close()
        except Exception:
            log.exception("error while closing")
