"""Screening a question before anything else runs: length limits, injection and hand-off cues.

A question that cannot be taken (empty, too long, an invalid conversation id) raises
`InvalidQuestionError`, which the API maps to 422. A question that looks like a prompt
injection is still answered from evidence (nothing in it is executed): it is only flagged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from policies.injection import InjectionScreen

__all__ = [
    "CONVERSATION_ID_PATTERN",
    "InvalidQuestionError",
    "QuestionScreen",
    "ScreenedQuestion",
    "check_conversation_id",
    "check_question_length",
]

InvalidQuestionCode = Literal["empty_question", "question_too_long", "invalid_conversation_id"]

# Conversation ids are logged and traced: a narrow identifier. The API's schema uses this too.
CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN)


class InvalidQuestionError(ValueError):
    """The question (or its conversation id) will not be taken; `code` says why."""

    def __init__(self, code: InvalidQuestionCode, message: str) -> None:
        super().__init__(message)
        self.code: InvalidQuestionCode = code


@dataclass(frozen=True)
class ScreenedQuestion:
    """The question as the pipeline uses it: control characters removed, whitespace collapsed."""

    text: str
    injection_suspected: bool
    injection_reasons: tuple[str, ...]
    human_requested: bool


class QuestionScreen:
    """Validates and flags questions. Cheap: regular expressions only."""

    def __init__(
        self,
        *,
        max_chars: int,
        escalation_phrases: Iterable[str],
        injection: InjectionScreen | None = None,
    ) -> None:
        self._max_chars = max_chars
        self._injection = injection or InjectionScreen()
        phrases = sorted({" ".join(p.casefold().split()) for p in escalation_phrases if p.strip()})
        alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases)
        self._handoff = re.compile(rf"\b(?:{alternatives})\b") if phrases else None

    def screen(self, question: str) -> ScreenedQuestion:
        """Raises `InvalidQuestionError` for an empty or too long question."""
        if len(question) > self._max_chars * 4:  # do not even normalise a huge input
            raise _too_long(self._max_chars)
        text = normalise_question(question)
        check_question_length(text, self._max_chars)
        assessment = self._injection.assess(text)
        return ScreenedQuestion(
            text=text,
            injection_suspected=assessment.suspected,
            injection_reasons=assessment.reasons,
            human_requested=self.wants_human(text),
        )

    def wants_human(self, text: str) -> bool:
        """Whether the user asks for a person ("I want to talk to a human", "escalate")."""
        return self._handoff is not None and self._handoff.search(text.casefold()) is not None


def normalise_question(question: str) -> str:
    """Unicode NFC, control and format characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFC", question)
    kept = (
        ch if unicodedata.category(ch)[0] != "C" else (" " if ch in "\t\n\r" else "") for ch in text
    )
    return " ".join("".join(kept).split())


def check_question_length(text: str, max_chars: int) -> None:
    """The one length rule (`agent.max_question_chars`), for the pipeline and the API alike:
    raises `InvalidQuestionError` for an empty question or one over `max_chars`."""
    if not text:
        raise InvalidQuestionError("empty_question", "the question is empty")
    if len(text) > max_chars:
        raise _too_long(max_chars)


def _too_long(max_chars: int) -> InvalidQuestionError:
    return InvalidQuestionError(
        "question_too_long", f"the question is longer than {max_chars} characters"
    )


def check_conversation_id(conversation_id: str) -> str:
    """A conversation id as given, when it is a safe identifier (it is logged and traced)."""
    if not _CONVERSATION_ID.fullmatch(conversation_id):
        raise InvalidQuestionError(
            "invalid_conversation_id",
            "conversation_id must be 1-128 characters of letters, digits, '.', '_', ':' or '-'",
        )
    return conversation_id
