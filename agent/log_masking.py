"""Masked logging: a `logging.Filter` that masks every record, and a JSON formatter.

Install both on the *handlers* (a filter on a logger does not see records propagated from its
children), e.g. at the composition root:

    handler = logging.StreamHandler()
    handler.addFilter(PiiLogFilter(guard))
    handler.setFormatter(MaskedJsonFormatter(guard))
    logging.getLogger().addHandler(handler)

The filter replaces `record.msg % record.args` by its masked text, masks the `extra=` fields,
the exception text and the stack; after it no raw value is left on the record for any later
handler or formatter. The formatter masks again only what no filter has masked (defence in
depth when it is installed alone).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agent.request_context import current_request_id

if TYPE_CHECKING:  # the guard loads Presidio; settings import this module at CLI start-up
    from policies.pii.guard import PiiGuard

__all__ = ["MaskedJsonFormatter", "PiiLogFilter", "mask_record", "withhold_record"]

_MASKED_FLAG = "_proofdesk_masked"
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
    _MASKED_FLAG,
}


def _extra_fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}


def mask_record(record: logging.LogRecord, guard: PiiGuard) -> None:
    """Mask `record` in place (message, extra fields, exception, stack); idempotent.

    If masking itself fails, the record's content is withheld: a log line never carries an
    unmasked value, and logging never raises into the code that logs.
    """
    if getattr(record, _MASKED_FLAG, False):
        return
    try:
        _mask_in_place(record, guard)
    except Exception as exc:  # noqa: BLE001 - fail closed, never raise from logging
        withhold_record(record, f"masking failed ({type(exc).__name__})")
    setattr(record, _MASKED_FLAG, True)


def withhold_record(record: logging.LogRecord, reason: str) -> None:
    """Replace everything `record` carries by `<log record withheld: reason>` (when it cannot
    be masked); its level, logger and time stay."""
    record.msg = f"<log record withheld: {reason}>"
    record.args = None
    record.exc_info = None
    record.exc_text = None
    record.stack_info = None
    for key in _extra_fields(record):
        setattr(record, key, None)
    record.request_id = None
    setattr(record, _MASKED_FLAG, True)


def _mask_in_place(record: logging.LogRecord, guard: PiiGuard) -> None:
    if record.args:
        # Each argument is masked on its own first: as data, before `%r` quotes or escapes it
        # (quoting hides names from NER); the formatted message is masked again below.
        args = record.args
        record.args = (
            guard.mask_mapping(args)
            if isinstance(args, Mapping)
            else tuple(guard.mask_value(a) for a in args)
        )
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # bad %-arguments: keep the template, drop the values
        message = f"{record.msg} (unformattable log arguments withheld)"
    record.msg = guard.mask_text(message)
    record.args = None
    for key, value in _extra_fields(record).items():
        setattr(record, key, guard.mask_value(value))
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = guard.mask_text(record.exc_text)
    record.exc_info = None  # the traceback object holds raw locals and messages
    if record.stack_info:
        record.stack_info = guard.mask_text(record.stack_info)
    request_id = getattr(record, "request_id", None)
    if request_id in (None, "-"):  # "-": the API's placeholder outside any request
        request_id = current_request_id()
    record.request_id = guard.safe_id(str(request_id)) if request_id else None


class PiiLogFilter(logging.Filter):
    """Masks each record that passes the handler it is installed on; never drops a record."""

    def __init__(self, guard: PiiGuard) -> None:
        super().__init__()
        self._guard = guard

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record, self._guard)
        return True


class MaskedJsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message, extra fields,
    exception. Everything in it is masked."""

    def __init__(self, guard: PiiGuard | None = None) -> None:
        """Without `guard`, a `PiiLogFilter` (or the like) on the handler must have masked each
        record: one that arrives unmasked is withheld."""
        super().__init__()
        self._guard = guard

    def format(self, record: logging.LogRecord) -> str:
        if self._guard is not None:
            mask_record(record, self._guard)
        elif not getattr(record, _MASKED_FLAG, False):
            withhold_record(record, "not masked")
        body: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            "message": record.getMessage(),
        }
        for key, value in _extra_fields(record).items():
            body.setdefault(key, value)
        if record.exc_text:
            body["exception"] = record.exc_text
        if record.stack_info:
            body["stack"] = record.stack_info
        return json.dumps(body, ensure_ascii=False, default=self._unserialisable)

    def _unserialisable(self, value: object) -> str:
        if self._guard is None:
            return f"<{type(value).__name__}>"
        return self._guard.mask_text(str(value))
