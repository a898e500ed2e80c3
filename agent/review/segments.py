"""An answer's text split at its `[n]` citation markers, with the text resting on a citation the
reader may not read hidden (`HIDDEN_TEXT`): what the audit page shows and what an answer given
earlier shows a reader who lost access since."""

from __future__ import annotations

import re
from typing import Final

from agent.review.types import AnswerSegment

__all__ = ["HIDDEN_TEXT", "answer_segments"]

_MARKER: Final = re.compile(r"\[(\d{1,3})\]")
HIDDEN_TEXT: Final = "[text from a document you may not read]"


def answer_segments(answer: str, restricted: set[int]) -> tuple[AnswerSegment, ...]:
    """The answer split at its `[n]` markers. Text is attributed to the markers that follow it,
    and hidden when one of them points into a document the auditor may not read: an
    extractive sentence *is* that document's text."""
    tokens: list[tuple[str, int | None]] = []
    last = 0
    for match in _MARKER.finditer(answer):
        if match.start() > last:
            tokens.append((answer[last : match.start()], None))
        tokens.append((match.group(0), int(match.group(1))))
        last = match.end()
    if last < len(answer):
        tokens.append((answer[last:], None))
    parts: list[AnswerSegment] = []
    for i, (text, marker) in enumerate(tokens):
        if marker is not None:
            parts.append(AnswerSegment(text, marker))
            continue
        cited: list[int] = []
        for following, number in tokens[i + 1 :]:
            if number is None and following.strip():
                break
            if number is not None:
                cited.append(number)
        if text.strip() and restricted.intersection(cited):
            lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
            parts.append(AnswerSegment(f"{lead}{HIDDEN_TEXT}{trail}", hidden=True))
        else:
            parts.append(AnswerSegment(text))
    return tuple(parts)
