"""A PII analysis worker process (see `policies.pii.analysis_pool`).

    python -m policies.pii.analysis_worker READ_FD WRITE_FD

Reads `RedactionSettings` from READ_FD, builds the analyzer, answers "ready"; then, per request,
reads a list of segments and writes back the list of their findings (or the exception raised).
Exits when the parent closes the pipe.
"""

from __future__ import annotations

import os
import sys

from policies.pii.analysis_pool import read_frame, write_frame
from policies.pii.settings import RedactionSettings


def main(argv: list[str]) -> int:
    requests = os.fdopen(int(argv[0]), "rb")
    replies = os.fdopen(int(argv[1]), "wb")
    settings = read_frame(requests)
    if not isinstance(settings, RedactionSettings):
        write_frame(replies, f"expected RedactionSettings, got {type(settings).__name__}")
        return 2
    try:
        from policies.pii.redaction import PresidioRedactor

        redactor = PresidioRedactor(settings=settings)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        write_frame(replies, f"{type(exc).__name__}: {exc}")
        return 1
    write_frame(replies, "ready")
    while True:
        try:
            segments = read_frame(requests)
        except EOFError:
            return 0
        try:
            assert isinstance(segments, list)
            write_frame(replies, [redactor.analyse_segment(s) for s in segments])
        except Exception as exc:  # noqa: BLE001 - the parent re-raises it for that call
            write_frame(replies, exc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
