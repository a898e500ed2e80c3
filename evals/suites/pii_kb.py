"""Masking precision on the sample KB's own evidence: what an auditor reads.

Every document of the KB is parsed as ingest parses it and analysed twice: by the redactor
alone, and with the corpus vocabulary collected from the same documents (as ingest collects
it). Per entity type: how many masked spans (overlapping findings of a type united) there
are, how many fall on a word that must stay readable and how many on a person
(kb/pii_terms.yaml); for PERSON, precision (spans on a listed person) and recall (mentions of
listed people masked whole).

    python -m evals.suites.pii_kb [KB]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evals.suites.pii import redaction_parts
from ingest.documents import DOC_TYPES, DocType
from ingest.parsing import parse_document
from policies.pii.redaction import PresidioRedactor
from policies.pii.types import PiiFinding
from policies.pii.vocabulary import CorpusVocabulary, corpus_vocabulary, document_terms

__all__ = ["KbMaskingReport", "kb_texts", "load_terms", "main", "measure"]

REPO_KB = Path(__file__).resolve().parents[2] / "kb"


@dataclass
class KbMaskingReport:
    findings: Counter[str] = field(default_factory=Counter)
    on_readable: Counter[str] = field(default_factory=Counter)
    on_people: Counter[str] = field(default_factory=Counter)
    readable_masked: Counter[str] = field(default_factory=Counter)  # by term
    people_mentions: int = 0
    people_masked: int = 0

    def person_precision(self) -> float:
        found = self.findings["PERSON"]
        return self.on_people["PERSON"] / found if found else 1.0

    def person_recall(self) -> float:
        return self.people_masked / self.people_mentions if self.people_mentions else 1.0


def load_terms(kb: Path) -> tuple[list[str], list[str]]:
    """(readable terms, people) from `kb/pii_terms.yaml`."""
    data = yaml.safe_load((kb / "pii_terms.yaml").read_text(encoding="utf-8"))
    return list(data["readable"]), list(data["people"])


def kb_texts(kb: Path) -> list[str]:
    """The parsed text of every document under `kb`'s source folders."""
    texts = []
    for path in sorted(kb.rglob("*")):
        kind = path.suffix.lstrip(".")
        if path.parent == kb or "_build" in path.parts or kind not in DOC_TYPES:
            continue
        doc_type: DocType = kind
        texts.append(parse_document(path.read_bytes(), doc_type, fallback_title=path.stem).text)
    return texts


def _spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    return [
        m.span()
        for term in terms
        for m in re.finditer(rf"(?<![\w-]){re.escape(term)}(?![\w-])", text)
    ]


def _overlaps(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def _masked_spans(findings: Sequence[PiiFinding]) -> list[tuple[str, int, int]]:
    """Findings of one type that overlap or touch, united: what one placeholder replaces."""
    spans: list[tuple[str, int, int]] = []
    for f in sorted(findings, key=lambda f: (f.entity_type, f.start, -f.end)):
        if spans and spans[-1][0] == f.entity_type and f.start <= spans[-1][2] + 1:
            kind, start, end = spans[-1]
            spans[-1] = (kind, start, max(end, f.end))
        else:
            spans.append((f.entity_type, f.start, f.end))
    return spans


def measure(redactor: PresidioRedactor, kb: Path = REPO_KB) -> KbMaskingReport:
    readable, people = load_terms(kb)
    report = KbMaskingReport()
    for text in kb_texts(kb):
        findings = redactor.find(text)
        readable_spans = _spans(text, readable)
        people_spans = _spans(text, people)
        for kind, start, end in _masked_spans(findings):
            report.findings[kind] += 1
            report.on_readable[kind] += _overlaps(start, end, readable_spans)
            report.on_people[kind] += _overlaps(start, end, people_spans)
        for term in readable:
            for s, e in _spans(text, [term]):
                if any(f.start < e and s < f.end for f in findings):
                    report.readable_masked[term] += 1
        for s, e in people_spans:
            report.people_mentions += 1
            report.people_masked += any(f.start <= s and e <= f.end for f in findings)
    return report


def vocabulary_of(kb: Path) -> CorpusVocabulary:
    """The corpus vocabulary of `kb`, as ingest collects it."""
    terms = corpus_vocabulary(document_terms(text) for text in kb_texts(kb))
    return CorpusVocabulary(load=lambda: terms)


def _table(label: str, report: KbMaskingReport) -> str:
    lines = [label, f"{'entity':<20}{'findings':>9}{'readable':>9}{'people':>8}"]
    for kind, count in sorted(report.findings.items()):
        lines.append(
            f"{kind:<20}{count:>9}{report.on_readable[kind]:>9}{report.on_people[kind]:>8}"
        )
    lines.append(
        f"PERSON precision {report.person_precision():.3f}, recall on listed people "
        f"{report.person_recall():.3f} ({report.people_masked}/{report.people_mentions}); "
        f"readable terms masked: {dict(report.readable_masked) or 'none'}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.suites.pii_kb", description=__doc__)
    parser.add_argument("kb", type=Path, nargs="?", default=REPO_KB)
    args = parser.parse_args(argv)
    with redaction_parts() as parts:
        print(_table("redactor alone", measure(parts.redactor, args.kb)))
    # The served redactor reads the vocabulary from the state database ingest filled; here it
    # is the knowledge base's own, so this one is built directly (the comparison's other side).
    with_vocabulary = PresidioRedactor(vocabulary=vocabulary_of(args.kb))
    print(_table("\nwith the corpus vocabulary", measure(with_vocabulary, args.kb)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
