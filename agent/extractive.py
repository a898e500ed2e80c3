"""The extractive composer: cited sentences taken verbatim from the evidence, no LLM.

Relevance of a candidate sentence to the question (`relevance_scores`, also what the verifier's
confidence, and so the decision, starts from):

    mean(cosine(question, sentence), cosine(question, "<title — headings>: sentence"))
    + coverage_weight × IDF-weighted share of the question's terms in the sentence
    − penalties

The framed cosine lets a sentence count its section's topic ("Retirement: 401(k)"); a
sentence's terms include its table header and the headings below the page title. IDF is
computed over the request's candidate sentences, so a term every passage shares says little.
Penalties mark sentences that look relevant without answering: a question ("Which network
should I use?"), a restatement of the question (every term of the sentence is a term of the
question), a bare cross-reference ("See Password reset."), a sentence lacking what the
question asks for (a number for "how many", a duration for "how long", a date for "when"; an
amount asked "per month" or "per person" stated with that rate) or
naming none of the numbers and codes the question names ("L7", "2026-014"), and (with
`injection_penalty`) a chunk flagged as possible prompt injection at ingest. Paragraphs that
read as instructions to an assistant are not candidates at all (`SentenceIndex`).

Composition (`agent.answer_shape` classifies the sentences):
- Never quoted: a question line (a sentence ending in "?", an FAQ entry's heading), a sentence
  that only describes the page ("This page explains …"), and a sentence whose reference ("the
  rules above", "see below", "as follows:") points to nothing in the evidence.
- The lead is the sentence that answers: the most relevant of those left (a sentence that only
  adds to another, "You can also ...", leads only when nothing else close to the top can) or,
  with an `answer_scores` callable (a reader: the probability that each text states the
  answer), the one it scores highest among the candidates within `LEAD_MARGIN` of the most
  relevant.
- Supporting sentences follow when they score within `supporting_margin` of the lead (chosen
  MMR-style, near-duplicates skipped), or when they cover a part of the question nothing chosen
  covers yet (a two-part question) within `complement_margin`.
- A table row the question names by its label ("March" in "On which dates is salary paid in
  March 2026?") joins the answer when no chosen row is named so and it is within
  `complement_margin` of the top: a prose sentence on the same words can outrank it.
- A question asking how ("How do I …") gets the whole procedure of the lead (its run of list
  items, in order), and of a supporting step while the answer stays within `_MAX_UNITS` (of a
  bulleted, not numbered, list only the items within `_STEP_FLOOR`: a checklist is not a
  procedure).
- A short paragraph the answer quotes twice is quoted whole ("Connect to NW-Guest." with the
  two sentences after it).
- A page a chosen sentence names ("(see Lost or stolen device)") gives its most relevant
  sentence not quoted yet, when it is in the evidence and relevant.
- A list item under another label line than the lead's ("**Windows**" when the "**macOS**"
  steps lead) is an alternative, never support.
- A sentence whose reference resolves is followed by the text it points to (the rules "above").
- Order: the lead's group (its procedure, or the lead and what follows it in its paragraph)
  first; then the other sentences, the lead's chunk first, each chunk in document order.
Each sentence carries the exact span it was taken from.

Nothing in the evidence is ever executed or followed: text is only compared and quoted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence

import numpy as np
import numpy.typing as npt

from agent.answer_shape import (
    asks_how,
    is_addition,
    is_numbered,
    is_page_description,
    is_question_line,
    letters,
    procedure_runs,
    resolve_reference,
)
from agent.evidence import SentencePool
from agent.settings import AgentSettings
from agent.types import ComposedSentence, Composition
from retrieval.embedding.embedder import Embedder
from retrieval.sentences import content_terms

__all__ = [
    "LEAD_MARGIN",
    "AnswerScores",
    "ExtractiveComposer",
    "QueryVectors",
    "answer_cue",
    "missing_cue",
    "relevance_scores",
]

QueryVectors = Callable[[str], npt.NDArray[np.float32]]
# (question, texts) -> the probability that each text states the answer (a reader's `score`).
AnswerScores = Callable[[str, Sequence[str]], Sequence[float]]
Scores = npt.NDArray[np.float64]

_QUESTION_PENALTY = 0.15
_RESTATEMENT_PENALTY = 0.5
_POINTER_PENALTY = 0.2
_CUE_PENALTY = 0.05
_KEY_PENALTY = 0.05
LEAD_MARGIN = 0.1  # candidates this close to the most relevant may lead, by answer score
_MAX_SCORED = 8  # at most this many candidates are given to `answer_scores`
_MAX_UNITS = 16  # a procedure of a supporting step is added while the answer stays this short
# An item of a supporting step's bulleted (not numbered) list is shown with it from this relevance:
# the rest of a checklist is unrelated to the question (KB items of another topic score < 0.15,
# steps of the procedure asked for >= 0.29).
_STEP_FLOOR = 0.2
_SHORT_PARAGRAPH = 4  # a paragraph of this many sentences, quoted twice, is quoted whole
# A page named in a sentence: "(see Lost or stolen device)", "(see *Printing at the office*)".
_PAGE_NAME = re.compile(r"\(see\s+(?:the\s+)?([^()]{3,80}?)(?:\s+(?:article|page|policy))?\)", re.I)
_MIN_PAGE_NAME = 6  # letters: shorter names ("below", "FAQ") are not matched to pages

_POINTER = re.compile(
    r"^(?:for\b[^.;:]{0,80},\s*)?(?:please\s+)?see\b|\b(?:has|have)\s+(?:been\s+)?moved\s+to\b",
    re.IGNORECASE,
)
_UNITS = r"(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|nights?)"
_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|sixty|hundred|thousand|million|billion|half|a|an)"
)
_CUES: dict[str, re.Pattern[str]] = {
    "duration": re.compile(
        rf"\b(?:\d[\d.,]*|{_NUMBER_WORDS})[\s-]*(?:\w+[\s-]+)?{_UNITS}\b"
        r"|\b(?:daily|weekly|monthly|yearly|annually|overnight|immediately|every)\b",
        re.IGNORECASE,
    ),
    "number": re.compile(rf"\d|\b{_NUMBER_WORDS}\b|\b(?:once|twice|single|dozen)\b", re.I),
    "date": re.compile(
        r"\b(?:1[5-9]|20)\d\d\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
        r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|\bbusiness day\b"
        r"|\b\d{1,2}(?:st|nd|rd|th)\b"
        r"|\b(?:century|decade|season|spring|summer|autumn|fall|winter|year|week|month)s?\b",
        re.IGNORECASE,
    ),
}
_CUE_QUESTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "duration",
        re.compile(
            r"\bhow\s+(?:long|often|soon|quickly|far\s+(?:in\s+advance|ahead))\b"
            rf"|\bhow\s+many\s+{_UNITS}\b|\bfor\s+how\s+long\b",
            re.IGNORECASE,
        ),
    ),
    ("number", re.compile(r"\bhow\s+(?:many|much|old|big|large|tall|far|high)\b", re.I)),
    ("date", re.compile(r"\bwhen\b|\bwhat\s+(?:year|date|day|time)\b|\bby\s+when\b", re.I)),
)


# An amount asked for per something: "How many colour pages may I print per month?".
# ("a person", "an employee" name someone, not a rate: people only after "per").
_RATE_QUESTION = re.compile(
    r"\b(?:per|each|every|a|an)\s+(?:calendar\s+|working\s+|business\s+)?"
    r"(month|week|day|year|hour|night)\b"
    r"|\bper\s+(person|head|employee|user|attendee|guest|trip)\b",
    re.IGNORECASE,
)
_RATE_ADJECTIVES = {
    "month": "monthly",
    "week": "weekly",
    "day": "daily",
    "year": "(?:yearly|annual|annually)",
    "hour": "hourly",
    "night": "nightly",
}


def answer_cue(question: str) -> str | None:
    """What kind of answer the question asks for: "duration", "number", "date" or None."""
    for cue, pattern in _CUE_QUESTIONS:
        if pattern.search(question):
            return cue
    return None


def missing_cue(question: str, text: str, cues: Collection[str] = tuple(_CUES)) -> bool:
    """Whether the question asks for one of `cues` (see `answer_cue`) that `text` does not
    state ("How many days ...?" against a sentence without a number); an amount asked for
    per something ("How many colour pages per month?") is stated only with that rate ("per
    month", "a month", "monthly": "print runs of more than 500 pages" is not one)."""
    cue = answer_cue(question)
    if cue is None or cue not in cues:
        return False
    if not _CUES[cue].search(text):
        return True
    rate = _RATE_QUESTION.search(question) if cue in ("number", "duration") else None
    return rate is not None and not _rate_stated(rate.group(rate.lastindex or 1).casefold(), text)


def _rate_stated(unit: str, text: str) -> bool:
    adjective = _RATE_ADJECTIVES.get(unit, "")
    pattern = rf"\b(?:per|a|an|each|every)\s+(?:\w+\s+)?{unit}s?\b|/\s*{unit}\b"
    if adjective:
        pattern += rf"|\b{adjective}\b"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _cue_text(pool: SentencePool, index: int) -> str:
    return f"{pool.sentences[index].context} {pool.sentences[index].display}"


def relevance_scores(
    pool: SentencePool,
    question: str,
    question_vector: npt.NDArray[np.float32],
    *,
    settings: AgentSettings,
) -> Scores:
    """The relevance of every sentence of `pool` to `question` (see the module docstring)."""
    if not len(pool):
        return np.zeros(0, dtype=np.float64)
    # The mean of the sentence's similarity alone and in its section's frame ("Benefits —
    # Retirement: 401(k): Northwind matches 100% of ..."): a sentence often names its topic
    # only through its heading.
    alone = pool.vectors @ question_vector
    framed = pool.context_vectors @ question_vector
    similarity = ((alone + framed) / 2).astype(np.float64)
    wanted = set(content_terms(question))
    weights = _idf(pool, wanted)
    total = sum(weights.values()) or 1.0
    coverage = np.array([sum(w for t, w in weights.items() if t in s) / total for s in pool.terms])
    cue = answer_cue(question)
    # Numbers and codes the question names ("L7", "2026-014", "FY2027"): a sentence naming none
    # of them (in itself, its table header or its headings) is about something else.
    keys = {t for t in wanted if any(ch.isdigit() for ch in t)}
    penalty = np.zeros(len(pool), dtype=np.float64)
    for i, sentence in enumerate(pool.sentences):
        text = sentence.display
        if text.rstrip().endswith("?"):
            penalty[i] += _QUESTION_PENALTY
        own = set(content_terms(text))
        if wanted and own and own <= wanted:
            penalty[i] += _RESTATEMENT_PENALTY
        if _POINTER.search(text):
            penalty[i] += _POINTER_PENALTY
        if cue is not None and not _CUES[cue].search(_cue_text(pool, i)):
            penalty[i] += _CUE_PENALTY
        if keys and not keys & pool.terms[i]:
            penalty[i] += _KEY_PENALTY
        if pool.evidence_of(i).chunk.injection_suspected:
            penalty[i] += settings.injection_penalty
    return similarity + settings.coverage_weight * coverage - penalty


def _idf(pool: SentencePool, wanted: set[str]) -> dict[str, float]:
    size = len(pool)
    return {t: math.log((size + 1) / (1 + sum(t in s for s in pool.terms))) + 1 for t in wanted}


class ExtractiveComposer:
    """Picks a lead sentence and a few supporting ones from the evidence, each cited."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        query_vector: QueryVectors | None = None,
        settings: AgentSettings | None = None,
        answer_scores: AnswerScores | None = None,
    ) -> None:
        self._settings = settings or AgentSettings()
        self._query_vector = query_vector or embedder.embed_query
        self._answer_scores = answer_scores

    @property
    def name(self) -> str:
        return "extractive"

    def compose(self, question: str, pool: SentencePool) -> Composition:
        """Cited sentences of `pool` (the request's candidate sentences, numbered as its
        evidence) that answer `question`."""
        if not pool.evidence:
            return Composition(sentences=[], composer=self.name, notes=("no evidence",))
        references = [resolve_reference(pool, i) for i in range(len(pool))]
        usable = [
            not is_question_line(pool, i)
            and not is_page_description(pool.sentences[i].display)
            and references[i] is not None
            for i in range(len(pool))
        ]
        if not any(usable):
            return Composition(sentences=[], composer=self.name, notes=("no candidate sentence",))
        relevance = self.scores(pool, question)
        lead = self._lead(pool, relevance, usable, question)
        usable = [u and not _other_label(pool, lead, i) for i, u in enumerate(usable)]
        chosen = self._choose(pool, relevance, usable, lead, question)
        chosen = _whole_paragraphs(pool, chosen, usable)
        chosen = self._with_named_pages(pool, relevance, usable, chosen)
        chosen = self._with_named_row(pool, relevance, usable, chosen, question)
        how = asks_how(question)
        if how:
            chosen = self._with_procedure(pool, relevance, chosen)
        shaped = _shape(pool, chosen, usable, references, how=how, relevance=relevance)
        sentences = [
            ComposedSentence(
                text=pool.sentences[i].display,
                evidence_number=pool.evidence_of(i).number,
                span=(pool.sentences[i].start, pool.sentences[i].end),
            )
            for i in shaped
        ]
        return Composition(
            sentences=sentences,
            composer=self.name,
            notes=(f"{len(sentences)} of {len(pool)} candidate sentences",),
        )

    def scores(self, pool: SentencePool, question: str) -> Scores:
        return relevance_scores(
            pool, question, self._query_vector(question), settings=self._settings
        )

    def _lead(
        self, pool: SentencePool, relevance: Scores, usable: list[bool], question: str
    ) -> int:
        """The most relevant usable sentence or, with `answer_scores`, the one it scores highest
        among the usable ones within `LEAD_MARGIN` of the most relevant."""
        ranked = sorted((i for i in range(len(pool)) if usable[i]), key=lambda i: -relevance[i])
        close = [i for i in ranked if relevance[i] >= relevance[ranked[0]] - LEAD_MARGIN]
        # A sentence that adds to another ("You can also ...") does not lead when another
        # close to the top can.
        close = [i for i in close if not is_addition(pool.sentences[i].display)] or close
        if self._answer_scores is None:
            # A question asking for an amount, a duration or a date is answered by a sentence
            # that states one: the most relevant such sentence close to the top leads.
            stating = [i for i in close if not missing_cue(question, _cue_text(pool, i))]
            return stating[0] if stating and answer_cue(question) else close[0]
        close = close[:_MAX_SCORED]
        answers = list(self._answer_scores(question, [pool.sentences[i].display for i in close]))
        if len(answers) != len(close):
            raise ValueError(f"answer_scores gave {len(answers)} scores for {len(close)} texts")
        return close[max(range(len(close)), key=lambda k: (answers[k], relevance[close[k]]))]

    def _choose(
        self, pool: SentencePool, relevance: Scores, usable: list[bool], lead: int, question: str
    ) -> list[int]:
        s = self._settings
        chosen = [lead]
        # The sentence after the lead in the same paragraph or list item often completes it
        # ("...: lower the MTU. Go to Settings → Advanced → MTU and set it to 1280.").
        following = lead + 1
        if (
            following < len(pool)
            and usable[following]
            and pool.owners[following] == pool.owners[lead]
            and pool.sentences[following].block == pool.sentences[lead].block != -1
            and relevance[following] >= relevance[lead] - s.continuation_margin
        ):
            chosen.append(following)
        # Supporting sentences close to the lead (or to the most relevant sentence, when a
        # sentence that states the answer leads instead), MMR-style.
        top = max(float(relevance[i]) for i in range(len(pool)) if usable[i] or i == lead)
        floor = max(top - s.supporting_margin, s.supporting_min_relevance)
        candidates = [
            i for i in range(len(pool)) if usable[i] and i not in chosen and relevance[i] >= floor
        ]
        while candidates and len(chosen) < s.max_answer_sentences:
            redundancy = (pool.vectors[candidates] @ pool.vectors[chosen].T).max(axis=1)
            mmr = s.mmr_lambda * relevance[candidates] - (1 - s.mmr_lambda) * redundancy
            best = int(np.argmax(mmr))
            fresh = not _same_text(pool, chosen, candidates[best])
            if redundancy[best] < s.max_redundancy and fresh:
                chosen.append(candidates[best])
            candidates.pop(best)
        # Complements: a part of the question that nothing chosen covers yet.
        weights = _idf(pool, set(content_terms(question)))
        total = sum(weights.values()) or 1.0
        uncovered = set(weights) - frozenset().union(*(pool.terms[i] for i in chosen))
        floor = max(top - s.complement_margin, s.supporting_min_relevance)
        for i in sorted(range(len(pool)), key=lambda j: -relevance[j]):
            if not uncovered or len(chosen) >= s.max_answer_sentences or relevance[i] < floor:
                break
            gain = pool.terms[i] & uncovered
            if (
                not usable[i]
                or i in chosen
                or sum(weights[t] for t in gain) < (s.complement_min_gain * total)
            ):
                continue
            redundant = float((pool.vectors[chosen] @ pool.vectors[i]).max()) >= s.max_redundancy
            if not redundant and not _same_text(pool, chosen, i):
                chosen.append(i)
                uncovered -= gain
        return chosen

    def _with_named_pages(
        self, pool: SentencePool, relevance: Scores, usable: list[bool], chosen: list[int]
    ) -> list[int]:
        """`chosen` with, for each chosen sentence naming another page ("must be reported to
        the Security hotline within 1 hour (see Lost or stolen device)"), that page's most
        relevant sentence not quoted yet, when the page is in the evidence and the sentence
        reaches `supporting_min_relevance` (a plain sentence: a list item or a table row would
        be quoted out of its list): the page named is where the rest of the answer is ("Call
        the Security hotline on +1 503 555 0170")."""
        out = list(chosen)
        for i in chosen:
            for name in _PAGE_NAME.findall(pool.sentences[i].display):
                wanted = letters(name)
                pages = {
                    owner
                    for owner, evidence in enumerate(pool.evidence)
                    if owner != pool.owners[i]
                    and len(wanted) >= _MIN_PAGE_NAME
                    and any(
                        letters(h).startswith(wanted)
                        for h in (evidence.chunk.title, *evidence.chunk.heading_path)
                    )
                }
                found = [
                    j
                    for j in range(len(pool))
                    if pool.owners[j] in pages
                    and usable[j]
                    and pool.sentences[j].kind == "sentence"
                    and pool.sentences[j].display[:1].isupper()
                    and j not in out
                    and not _same_text(pool, out, j)
                    and relevance[j] >= self._settings.supporting_min_relevance
                ]
                if found:
                    out.append(max(found, key=lambda j: relevance[j]))
        return out

    def _with_named_row(
        self,
        pool: SentencePool,
        relevance: Scores,
        usable: list[bool],
        chosen: list[int],
        question: str,
    ) -> list[int]:
        """`chosen` with the table row the question names by its label (its first cell:
        "March" in "On which dates is salary paid in March 2026?"), when no chosen row is
        named so yet: the most relevant such row within `complement_margin` of the top (and
        from `supporting_min_relevance`). A prose sentence on the same words ("Annual bonuses
        are paid with the 31 March 2026 payroll") can outrank the row that holds the answer."""
        asked = frozenset(content_terms(question))
        named = [i for i in range(len(pool)) if usable[i] and _row_named(pool, i, asked)]
        if not named or any(i in chosen for i in named):
            return chosen
        s = self._settings
        top = max(float(relevance[i]) for i in chosen)
        floor = max(top - s.complement_margin, s.supporting_min_relevance)
        found = [i for i in named if relevance[i] >= floor and not _same_text(pool, chosen, i)]
        if not found:
            return chosen
        return [*chosen, max(found, key=lambda i: relevance[i])]

    def _with_procedure(
        self, pool: SentencePool, relevance: Scores, chosen: list[int]
    ) -> list[int]:
        """`chosen` with, second, the most relevant list item of the pool when it is within
        `complement_margin` of the lead: its procedure is what a "how" question asks for,
        even when that step itself cannot be quoted (its "rules above" are not in the
        evidence) and a plain sentence leads."""
        items = [i for i in range(len(pool)) if pool.sentences[i].kind == "item"]
        if not items:
            return chosen
        best = max(items, key=lambda i: relevance[i])
        if (
            best in chosen
            or relevance[best] < relevance[chosen[0]] - self._settings.complement_margin
        ):
            return chosen
        return [chosen[0], best, *(i for i in chosen[1:] if i != best)]


def _whole_paragraphs(pool: SentencePool, chosen: list[int], usable: list[bool]) -> list[int]:
    """`chosen` with the rest of each short paragraph (at most `_SHORT_PARAGRAPH` sentences)
    it already quotes twice: "Connect to NW-Guest." is the answer its paragraph's other two
    sentences ("Today's access code is on your badge. Guest Wi-Fi gives internet access
    only.") leave out. A bare cross-reference ("See Password reset.") stays out."""
    paragraphs: dict[tuple[int, int], list[int]] = {}
    for i in range(len(pool)):
        if pool.sentences[i].block != -1 and pool.sentences[i].kind == "sentence":
            paragraphs.setdefault((pool.owners[i], pool.sentences[i].block), []).append(i)
    out = list(chosen)
    for members in paragraphs.values():
        quoted = sum(i in chosen for i in members)
        if quoted >= 2 and len(members) <= _SHORT_PARAGRAPH:
            out += [
                i
                for i in members
                if usable[i] and i not in out and not _POINTER.search(pool.sentences[i].display)
            ]
    return out


def _row_named(pool: SentencePool, index: int, asked: frozenset[str]) -> bool:
    """Whether `index` is a table row whose label (its first cell's value) the question names:
    every content term of the label is among `asked`."""
    unit = pool.sentences[index]
    if unit.kind != "row":
        return False
    first = unit.display.split(";", 1)[0]
    label = first.split(":", 1)[1] if ":" in first else first
    terms = frozenset(content_terms(label))
    return bool(terms) and terms <= asked


def _other_label(pool: SentencePool, lead: int, index: int) -> bool:
    """Whether `index` is a list item under another label than the lead's, in the same chunk
    (the Windows steps when the macOS steps lead): an alternative, not support."""
    label = pool.sentences[lead].context if pool.sentences[lead].kind == "item" else ""
    unit = pool.sentences[index]
    return (
        bool(label)
        and unit.kind == "item"
        and bool(unit.context)
        and unit.context != label
        and pool.owners[index] == pool.owners[lead]
    )


def _shape(
    pool: SentencePool,
    chosen: list[int],
    usable: list[bool],
    references: list[tuple[int, ...] | None],
    *,
    how: bool,
    relevance: Scores,
) -> list[int]:
    """The chosen sentences in answer order, procedures completed and references resolved.
    The lead's own list is shown whole; the list of a supporting item is shown whole when it
    is numbered (a procedure), and otherwise only its items within `_STEP_FLOOR` of relevance
    (a checklist's unrelated items stay out: "Add the printer" does not bring "Ask your manager
    which team sites you need")."""
    runs = procedure_runs(pool) if how else {}

    def steps(i: int) -> tuple[int, ...]:
        run = runs.get(i, (i,))
        if len(run) == 1 or is_numbered(pool, run[0]):
            return run
        return tuple(j for j in run if j == i or relevance[j] >= _STEP_FLOOR)

    lead = chosen[0]
    groups = [[i for i in runs.get(lead, (lead,)) if usable[i]]]
    lead_owner = pool.owners[lead]
    document = pool.evidence_of(lead).chunk.document_id
    rest = chosen[1:]
    if how and len(rest) and pool.sentences[rest[0]].kind == "item":  # the procedure
        groups.append([i for i in steps(rest[0]) if usable[i] and i not in groups[0]])
    for i in sorted(rest, key=lambda j: (pool.owners[j] != lead_owner, pool.owners[j], j)):
        if not usable[i] or any(i in g for g in groups):
            continue
        run = [j for j in steps(i) if usable[j] and not any(j in g for g in groups)]
        size = sum(map(len, groups))
        same_document = pool.evidence_of(i).chunk.document_id == document
        groups.append(run if same_document and size + len(run) <= _MAX_UNITS else [i])
    groups = [g for g in groups if g]
    # What a sentence refers to ("the rules above") follows its group.
    placed = {i for g in groups for i in g}
    ordered: list[int] = []
    for group in groups:
        ordered += sorted(group)
        ordered += [
            j
            for i in sorted(group)
            for j in references[i] or ()
            if usable[j] and j not in placed and j not in ordered
        ]
    ordered = list(dict.fromkeys(ordered))
    return [i for p, i in enumerate(ordered) if _resolved(ordered, p, references[i] or ())]


def _resolved(ordered: list[int], position: int, referent: tuple[int, ...]) -> bool:
    """Whether what the sentence at `position` refers to is shown: text it announces ("as
    follows:") after it, text it points back to ("the rules above") anywhere."""
    if not referent:
        return True
    if referent[0] > ordered[position]:
        return referent[0] in ordered[position + 1 :]
    return referent[0] in ordered


def _same_text(pool: SentencePool, chosen: list[int], candidate: int) -> bool:
    text = pool.sentences[candidate].display.casefold()
    return any(pool.sentences[i].display.casefold() == text for i in chosen)
