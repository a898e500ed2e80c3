"""The indexed corpus's own vocabulary: names of the organisation, its products and places that
the NER model takes for people ("Northwind", "PeopleHub", "ExpensePoint", "Mac").

Collected at ingest, per document (`document_terms`), stored with the sync state, and read back
as one `corpus_vocabulary`: capitalised words found in several documents. A PERSON or LOCATION
finding made only of such words is not masked, so evidence shown to auditors stays readable.

A person named in many documents ("ask Heidi Brandt") must still be masked: a word that sits
in the same pair of capitalised words in most documents holding it (a first name and a surname)
is left out of the vocabulary, unless the corpus also writes it in lower case ("People
Operations" and "operations": ordinary words; no document writes "heidi").
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import regex  # type: ignore[import-untyped]

__all__ = ["CorpusVocabulary", "DocumentTerms", "corpus_vocabulary", "document_terms"]

# A capitalised word holding a lower-case letter or a digit: "Northwind", "PeopleHub", "FY2027".
# A lower-case word of prose, not part of an address or identifier ("heidi.brandt@...").
_LOWER_WORD = regex.compile(r"(?<![\p{L}\d_@./-])\p{Ll}{3,}(?![\p{L}\d_@/-]|\.\w)")
_TERM = regex.compile(r"(?<![\p{L}\d_@./-])\p{Lu}[\p{L}\d]*[\p{Ll}\d][\p{L}\d]*(?![\p{L}\d_@-])")
_PAIR = regex.compile(
    r"(?<![\p{L}\d_@./-])(\p{Lu}[\p{L}\d]*\p{Ll}[\p{L}\d]*)[ \t]+"
    r"(?=(\p{Lu}[\p{L}\d]*\p{Ll}[\p{L}\d]*)(?![\p{L}\d_@-]))"
)
MIN_DOCUMENTS = 3  # a term must appear in this many documents
PAIRED_SHARE = 0.6  # a term inside one fixed pair in this share of its documents is a name part


@dataclass(frozen=True)
class DocumentTerms:
    """The capitalised words of one document, the pairs of them that stand side by side, and
    which of them the document also writes in lower case."""

    terms: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    lowered: frozenset[str] = frozenset()


def document_terms(text: str) -> DocumentTerms:
    """What one document contributes to the corpus vocabulary."""
    terms = frozenset(_TERM.findall(text))
    pairs = frozenset((m.group(1), m.group(2)) for m in _PAIR.finditer(text))
    lower = frozenset(_LOWER_WORD.findall(text))
    return DocumentTerms(
        terms=terms, pairs=pairs, lowered=frozenset(t for t in terms if t.lower() in lower)
    )


def corpus_vocabulary(
    documents: Iterable[DocumentTerms],
    *,
    min_documents: int = MIN_DOCUMENTS,
    paired_share: float = PAIRED_SHARE,
) -> frozenset[str]:
    """Capitalised words found in `min_documents` documents or more, minus name parts."""
    in_documents: Counter[str] = Counter()
    pair_documents: Counter[tuple[str, str]] = Counter()
    lowered: Counter[str] = Counter()
    for doc in documents:
        in_documents.update(doc.terms)
        pair_documents.update(doc.pairs)
        lowered.update(doc.lowered)
    most_paired: Counter[str] = Counter()
    for (first, second), count in pair_documents.items():
        for word in (first, second):
            most_paired[word] = max(most_paired[word], count)
    return frozenset(
        term
        for term, count in in_documents.items()
        if count >= min_documents
        and (most_paired[term] < paired_share * count or lowered[term] > 0)
    )


class CorpusVocabulary:
    """The corpus vocabulary, loaded by `load` and read again at most every `refresh_seconds`
    (a sync elsewhere changes it). Thread-safe; a failing load keeps the last vocabulary."""

    def __init__(
        self, *, load: Callable[[], frozenset[str]], refresh_seconds: float = 60.0
    ) -> None:
        self._load = load
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._terms: frozenset[str] = frozenset()
        self._folded: frozenset[str] = frozenset()
        self._loaded_at: float | None = None

    def folded(self) -> frozenset[str]:
        """The vocabulary, case folded."""
        now = time.monotonic()
        with self._lock:
            if self._loaded_at is None or now - self._loaded_at >= self._refresh_seconds:
                self._loaded_at = now
                try:
                    self._terms = self._load()
                except Exception:  # noqa: BLE001 - a vocabulary is a nicety, masking goes on
                    return self._folded
                self._folded = frozenset(t.casefold() for t in self._terms)
            return self._folded
