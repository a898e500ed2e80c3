"""Routing rules: which endpoints (in order) answer a question, or none (extractive answers).

Example: short factual questions (≤ 12 words, no "why/how/compare") → a cheap endpoint or no LLM;
everything else → the strong model first. Rules come from `RoutingSettings`; the first match wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.llm.settings import RoutingRule, RoutingSettings

__all__ = ["DEFAULT_RULE", "Route", "Router"]

DEFAULT_RULE = "default"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Route:
    rule: str  # the matching rule's name, or "default"
    endpoints: tuple[str, ...]  # empty: no LLM for this question


class Router:
    def __init__(self, *, settings: RoutingSettings, endpoint_names: Sequence[str]) -> None:
        self._rules = list(settings.rules)
        default = settings.default_route
        self._default = Route(DEFAULT_RULE, tuple(endpoint_names if default is None else default))

    @property
    def default(self) -> Route:
        return self._default

    def route(self, question: str) -> Route:
        words = _WORD.findall(question.casefold())
        for rule in self._rules:
            if _matches(rule, words):
                return Route(rule.name, tuple(rule.route))
        return self._default


def _matches(rule: RoutingRule, words: list[str]) -> bool:
    if rule.max_words is not None and len(words) > rule.max_words:
        return False
    present = set(words)
    if any(_term_in(term, words, present) for term in rule.exclude_terms):
        return False
    return not rule.require_terms or any(
        _term_in(term, words, present) for term in rule.require_terms
    )


def _term_in(term: str, words: list[str], present: set[str]) -> bool:
    """Whole-word (or whole-phrase) match, case-insensitive."""
    parts = _WORD.findall(term.casefold())
    if not parts:
        return False
    if len(parts) == 1:
        return parts[0] in present
    n = len(parts)
    return any(words[i : i + n] == parts for i in range(len(words) - n + 1))
