"""Logging for every entry point (`proofdesk serve`, the CLI commands, the scheduler, the audit
CLI): one handler on stderr whose records are masked before they are formatted.

`configure_logging` installs it (again and again: a second call replaces the first handler,
never adds one). Every record passes `agent.log_masking`'s masking with a `PiiGuard`: the
guard is built on the first record that reaches the handler, so a command that logs nothing
loads no PII model; the server hands over the guard it built anyway (`LogMasking.use`).
Records logged while the guard itself is being built wait and are masked once it exists; if it
cannot be built, their content is withheld. The format is text (default) or one JSON object
per line (`logging.format: json`).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field

from agent.log_masking import MaskedJsonFormatter, mask_record, withhold_record
from policies.pii.settings import RedactionSettings

if TYPE_CHECKING:  # the guard loads Presidio: built on the first record, not at import
    from policies.pii.guard import PiiGuard

__all__ = ["LogMasking", "LoggingSettings", "configure_logging", "masking_guard"]

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
_OURS = "_proofdesk_handler"
_MAX_HELD = 1000  # records waiting for the guard; beyond this they are dropped


class LoggingSettings(BaseModel):
    """`logging.*`: how log lines look (every line is masked whatever the format)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["text", "json"] = Field(
        default="text", description="text lines, or one JSON object per line"
    )


class _Busy(threading.local):
    """Per thread: whether it is building a guard or masking a record right now, and the records
    it logged meanwhile (a library's warning while the model loads), sent on once it is done."""

    def __init__(self) -> None:
        self.depth = 0
        self.deferred: list[tuple[LogMasking, logging.LogRecord]] = []


_busy = _Busy()
_MAX_DEFERRED = 100  # per outermost record; beyond this a thread's own records are dropped


class LogMasking(logging.Filter):
    """Masks every record that passes its handler; never drops one (see the module's text).

    Logging never waits on the masking: a record logged by a thread while it builds a guard or
    masks a record (in any `LogMasking`: a command may replace the handler meanwhile) is sent on
    when that work is done, never masked re-entrantly; a record logged by another thread while
    the guard is built waits in `_held` instead of blocking on the build.
    """

    def __init__(
        self, build: Callable[[], PiiGuard] | None, *, emit: Callable[[logging.LogRecord], object]
    ) -> None:
        """`build`: makes the guard on the first record; None: records wait for `use`."""
        super().__init__()
        self._build = build
        self._emit = emit
        self._guard: PiiGuard | None = None
        self._failure: str | None = None
        self._lock = threading.Lock()  # held for bookkeeping only, never while building
        self._loading = False
        self._held: list[logging.LogRecord] = []

    def use(self, guard: PiiGuard) -> None:
        """Mask with `guard` from now on (the server's, instead of building one); the records
        waiting for it are emitted now."""
        with self._lock:
            self._guard, self._failure = guard, None
            held, self._held = self._held, []
        for waiting in held:
            self._emit(waiting)

    def filter(self, record: logging.LogRecord) -> bool:
        if _busy.depth:  # logged by this thread's own guard building or masking
            if len(_busy.deferred) < _MAX_DEFERRED:
                _busy.deferred.append((self, record))
            return False
        _busy.depth += 1
        try:
            keep = self._mask(record)
        finally:
            _busy.depth -= 1
        _send_deferred()
        return keep

    def _mask(self, record: logging.LogRecord) -> bool:
        guard = self._guard or self._load(record)
        if guard is None:
            if self._failure is None:
                return False  # held until the guard exists, then emitted masked
            withhold_record(record, f"log masking unavailable ({self._failure})")
            return True
        mask_record(record, guard)
        return True

    def _load(self, record: logging.LogRecord) -> PiiGuard | None:
        with self._lock:
            if self._guard is not None or self._failure is not None:
                return self._guard
            if self._loading or self._build is None:  # another thread is making it
                if len(self._held) < _MAX_HELD:
                    self._held.append(record)
                return None
            self._loading = True
            build = self._build
        guard: PiiGuard | None = None
        failure: str | None = None
        try:
            guard = build()
        except Exception as exc:  # noqa: BLE001 - logging never raises; content withheld
            failure = type(exc).__name__
        with self._lock:
            self._guard, self._failure, self._loading = guard, failure, False
            held, self._held = self._held, []
        for waiting in held:
            _busy.deferred.append((self, waiting))  # sent once this record is done
        return guard


def _send_deferred() -> None:
    """Emit the records this thread logged while it was masking, now that it is not: each
    passes its handler's filter again, as any record does."""
    while _busy.deferred and not _busy.depth:
        masking, record = _busy.deferred.pop(0)
        masking._emit(record)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


_guards: dict[str, PiiGuard] = {}
_guards_lock = threading.Lock()


def masking_guard(redaction: RedactionSettings) -> PiiGuard:
    """A guard for a command's logs: the configured recognizers and model, in this process;
    one per process and settings (commands run in one process share it)."""
    from policies.pii.guard import PiiGuard
    from policies.pii.redaction import PresidioRedactor

    in_process = redaction.model_copy(update={"analysis_processes": 0})
    key = in_process.model_dump_json()
    with _guards_lock:
        if key not in _guards:
            _guards[key] = PiiGuard(redactor=PresidioRedactor(settings=in_process))
        return _guards[key]


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is when a record is emitted (as `logging.lastResort`
    does), so a replaced stderr (a test runner's capture) is followed, never kept."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        return


def configure_logging(
    *,
    level: str,
    settings: LoggingSettings,
    guard: Callable[[], PiiGuard] | None,
    stream: TextIO | None = None,
) -> LogMasking:
    """Route the root logger to one masked handler on `stream` (stderr) at `level`; `guard`
    builds the masking guard when the first record arrives (None: records wait until one is
    handed to the returned `LogMasking.use`)."""
    from api.middleware import install_request_id_logging

    install_request_id_logging()
    root = logging.getLogger()
    for old in list(root.handlers):
        # ours from an earlier call, and basicConfig's or anyone's plain stream handler
        if getattr(old, _OURS, False) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    handler: logging.StreamHandler[TextIO] = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    setattr(handler, _OURS, True)
    masking = LogMasking(guard, emit=handler.handle)
    handler.addFilter(masking)
    handler.setFormatter(
        _TextFormatter(TEXT_FORMAT)
        if settings.format == "text"
        else MaskedJsonFormatter()  # masked by the filter before
    )
    root.addHandler(handler)
    root.setLevel(level.upper())
    return masking
