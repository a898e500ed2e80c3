"""Leakage: every persona asks for every canary, and for every question, in every search mode.

Ground truth is independent of the policy engine: each canary declares its readers and denied
principals (`kb/canaries.yaml`), and a persona's principals come from `identities.yaml` (direct
groups expanded through its nested `groups`). A passage is **leaked** when a search returns text
holding a canary the persona may not see, or an answer (`AnswerService`) shows one in its text
or a citation's quote; a passage is **unreadable** when its own access lists (read/deny on the
chunk, or on the cited document) do not admit the persona. Both must be 0, as must re-check
drops (a chunk the index filter let through but the policy re-check refused).

Indistinguishability: for a persona who may not see a canary, BM25 search for the canary and
for a twin string that exists nowhere (same prefix, random suffix) must return exactly the same
passages with the same scores, and the answer pipeline the same status (and refusal text);
otherwise the result would reveal that the hidden string exists. (Dense and hybrid searches
embed the two strings differently, so only BM25 is compared exactly.)

`run` builds its own index: a copy of the knowledge base with extra canary documents planted next
to each declared one (fresh random strings every run, the same access lists by front matter).

    python -m evals.leakage_eval [--kb kb]
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evals.reporting import SuiteReport
from evals.retrieval_eval import EvalIndex, build_index
from ingest.state import StateStore
from policies.engine import PolicyEngine
from policies.principal import PUBLIC, Principal, group_ref, user_ref
from retrieval.embedder import Embedder, SentenceTransformerEmbedder
from retrieval.service import RetrievalRequest, RetrievalService
from retrieval.store import SearchMode

__all__ = [
    "Canary",
    "LeakageResult",
    "Persona",
    "load_canaries",
    "load_personas",
    "load_questions",
    "plant_canaries",
    "probe",
    "report",
    "run",
]

_MODES: tuple[SearchMode, ...] = ("hybrid", "sparse", "dense")
_TOKEN = re.compile(r"^(?P<prefix>.*[-_])(?P<suffix>[0-9a-fA-F]{6,})$")


@dataclass(frozen=True)
class Canary:
    string: str
    document: str  # relative to the knowledge base directory
    readers: frozenset[str]
    deny: frozenset[str] = frozenset()
    planted: bool = False

    def visible_to(self, refs: frozenset[str]) -> bool:
        return bool(refs & self.readers) and not refs & self.deny


@dataclass(frozen=True)
class AnswerView:
    """What an answer shows a user: its status, its text, and each citation's document (with
    that document's access lists) and quote."""

    status: str
    text: str
    cited: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str], ...] = ()


Answerer = Callable[[str, Principal], AnswerView]


def pipeline_answerer(
    *, retrieval: RetrievalService, policy: PolicyEngine, state: StateStore, embedder: Embedder
) -> Answerer:
    """The real answer pipeline (`AnswerService`, extractive composer) over an index."""
    from agent.pipeline import AnswerService

    service = AnswerService(
        retrieval=retrieval, policy=policy, embedder=embedder, index_version=state.index_version
    )

    def answer(question: str, principal: Principal) -> AnswerView:
        got = service.answer(question, principal=principal)
        cited = []
        for c in got.citations:
            doc = state.document(c.document_id)
            read, deny = (doc.read, doc.deny) if doc else ((), ())
            cited.append((c.document_id, read, deny, c.quote))
        return AnswerView(got.status, got.answer, tuple(cited))

    return answer


def _answerer(index: EvalIndex, embedder: Embedder) -> Answerer:
    return pipeline_answerer(
        retrieval=index.retrieval, policy=index.policy, state=index.state, embedder=embedder
    )


@dataclass(frozen=True)
class Persona:
    """A user as the identity provider reports them (None: anonymous), with expanded refs."""

    user: str | None
    idp_groups: tuple[str, ...]
    refs: frozenset[str]

    @property
    def name(self) -> str:
        return self.user or "(anonymous)"


def load_canaries(path: Path) -> list[Canary]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["canaries"]
    return [
        Canary(
            string=str(c["string"]),
            document=str(c["document"]),
            readers=frozenset(map(str, c["readers"])),
            deny=frozenset(map(str, c.get("deny") or ())),
        )
        for c in raw
    ]


def load_personas(path: Path) -> list[Persona]:
    """Every user of `identities.yaml`, an anonymous caller and a user nobody knows."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    parents: Mapping[str, Sequence[str]] = raw.get("groups") or {}

    def expand(groups: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(groups)
        while todo:
            group = todo.pop()
            if group in parents and group not in seen:  # an undefined group matches nobody
                seen.add(group)
                todo.extend(parents[group])
        return seen

    personas = [
        Persona(
            user=str(user),
            idp_groups=tuple(map(str, spec.get("groups") or ())),
            refs=frozenset(
                {PUBLIC, user_ref(str(user))}
                | {group_ref(g) for g in expand(map(str, spec.get("groups") or ()))}
            ),
        )
        for user, spec in sorted(raw["users"].items())
    ]
    personas.append(Persona(None, (), frozenset({PUBLIC})))
    personas.append(Persona("stranger", ("no-such-group",), frozenset({PUBLIC, "user:stranger"})))
    return personas


def load_questions(path: Path) -> list[str]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    return list(dict.fromkeys(str(q["question"]) for q in raw))


def twin(string: str) -> str:
    """A string that exists nowhere, shaped like `string` (same prefix and suffix length)."""
    match = _TOKEN.match(string)
    prefix, n = (match["prefix"], len(match["suffix"])) if match else (string[:-8], 8)
    return prefix + secrets.token_hex((n + 1) // 2)[:n]


def context_query(text: str, canary: str) -> str | None:
    """The sentence around a canary with the canary taken out (a question that finds it)."""
    at = text.find(canary)
    if at < 0:
        return None
    start = max(text.rfind(". ", 0, at), text.rfind("\n\n", 0, at)) + 1
    end = text.find(". ", at)
    sentence = text[start : end if end > 0 else len(text)].replace(canary, " ")
    return " ".join(sentence.split()) or None


# --- planting ------------------------------------------------------------------------------


def plant_canaries(kb: Path, canaries: Sequence[Canary]) -> list[Canary]:
    """Next to each canary's document, a new Markdown file with a fresh canary and the same
    access lists (front matter); returns the planted canaries."""
    planted: list[Canary] = []
    for n, canary in enumerate(canaries):
        source_doc = kb / canary.document
        context = context_query(
            source_doc.read_text(encoding="utf-8", errors="replace"), canary.string
        )
        string = twin(canary.string)
        rel = f"{Path(canary.document).parent.as_posix()}/zz-planted-note-{n}.md"
        front = {"read": sorted(canary.readers), "deny": sorted(canary.deny)}
        body = (
            f"---\n{yaml.safe_dump(front)}---\n\n# Internal reference note {n}\n\n"
            f"{context or 'Reference code for the records system'}: {string}. "
            "Quote it only on internal tickets.\n"
        )
        (kb / rel).write_text(body, encoding="utf-8")
        planted.append(Canary(string, rel, canary.readers, canary.deny, planted=True))
    return planted


# --- probing -------------------------------------------------------------------------------


@dataclass
class LeakageResult:
    personas: int = 0
    queries: int = 0
    searches: int = 0
    answers: int = 0  # questions put to the answer pipeline (0: retrieval only)
    leaked_passages: int = 0  # retrieved passages or answer text/quotes holding a hidden canary
    unreadable_passages: int = 0  # retrieved chunks / cited documents the persona may not read
    recheck_drops: int = 0
    probe_pairs: int = 0
    distinguishable_probes: int = 0
    canary_hits_by_readers: int = 0  # readers do find their canaries (the probes are not blind)
    leaks: list[str] = field(default_factory=list)
    by_persona: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "leaks"} | {"leaks": self.leaks[:50]}


@dataclass
class _Checker:
    """Counts, for one persona, what it was shown that it should not have been."""

    persona: Persona
    hidden: list[Canary]
    leaks: list[str]
    counts: dict[str, int] = field(
        default_factory=lambda: {"searches": 0, "answers": 0, "leaked": 0, "unreadable": 0}
    )

    def check(self, where: str, text: str, acl: tuple[Iterable[str], Iterable[str]] | None) -> None:
        """`text` shown to the persona; `acl`: the (read, deny) lists of the passage it is."""
        for canary in self.hidden:
            if canary.string in text:
                self.counts["leaked"] += 1
                self.leaks.append(f"{self.persona.name} {where} → {canary.string}")
        refs = self.persona.refs
        if acl is not None and not (refs & set(acl[0]) and not refs & set(acl[1])):
            self.counts["unreadable"] += 1
            self.leaks.append(f"{self.persona.name} {where} → unreadable passage")


def probe(
    retrieval: RetrievalService,
    policy: PolicyEngine,
    *,
    personas: Sequence[Persona],
    canaries: Sequence[Canary],
    questions: Sequence[str],
    documents: Mapping[str, str] | None = None,
    modes: Sequence[SearchMode] = _MODES,
    top_k: int = 10,
    answerer: Answerer | None = None,
) -> LeakageResult:
    """Every persona × (canary strings, canary context sentences, questions) × mode; with an
    `answerer`, every persona also asks the canary strings and context sentences.

    `documents` maps a canary's document path to its text, for the context questions.
    """
    texts = documents or {}
    probes = [c.string for c in canaries]
    probes += [q for c in canaries if (q := context_query(texts.get(c.document, ""), c.string))]
    queries = list(dict.fromkeys([*probes, *questions]))
    result = LeakageResult(personas=len(personas), queries=len(queries))
    for persona in personas:
        principal = policy.principal_for(persona.user, persona.idp_groups)
        hidden = [c for c in canaries if not c.visible_to(persona.refs)]
        checker = _Checker(persona, hidden, result.leaks)
        for mode in modes:
            for query in queries:
                found = retrieval.retrieve(
                    RetrievalRequest(query=query, principal=principal, top_k=top_k, mode=mode)
                )
                checker.counts["searches"] += 1
                result.recheck_drops += found.dropped_by_recheck
                for item in found.chunks:
                    chunk = item.hit.chunk
                    checker.check(f"[{mode}] {query!r}", chunk.text, (chunk.read, chunk.deny))
                    result.canary_hits_by_readers += any(
                        query == c.string in chunk.text and c not in hidden for c in canaries
                    )
        if answerer is not None:
            for query in probes:
                got = answerer(query, principal)
                checker.counts["answers"] += 1
                checker.check(f"[answer] {query!r}", got.text, None)
                for _doc, read, deny, quote in got.cited:
                    checker.check(f"[citation] {query!r}", quote, (read, deny))
        for canary in hidden:
            result.probe_pairs += 1
            result.distinguishable_probes += not _indistinguishable(
                retrieval, answerer, principal, canary.string, twin(canary.string)
            )
        counts = checker.counts
        result.searches += counts["searches"]
        result.answers += counts["answers"]
        result.leaked_passages += counts["leaked"]
        result.unreadable_passages += counts["unreadable"]
        result.by_persona[persona.name] = counts
    return result


def _indistinguishable(
    retrieval: RetrievalService,
    answerer: Answerer | None,
    principal: Principal,
    hidden: str,
    absent: str,
) -> bool:
    """BM25 hits (ids and scores) are identical; with an answerer, so are the statuses, and a
    refusal's text."""

    def hits(query: str) -> list[tuple[str, float]]:
        found = retrieval.retrieve(
            RetrievalRequest(query=query, principal=principal, top_k=20, mode="sparse")
        )
        return [(c.hit.chunk.chunk_id, round(c.hit.score, 5)) for c in found.chunks]

    if hits(hidden) != hits(absent):
        return False
    if answerer is None:
        return True
    a, b = answerer(hidden, principal), answerer(absent, principal)
    return a.status == b.status and (a.status == "answered" or a.text == b.text)


# --- the suite -----------------------------------------------------------------------------


def run(
    kb: Path,
    *,
    embedder: Embedder | None = None,
    plant: bool = True,
    modes: Sequence[SearchMode] = _MODES,
    answers: bool = True,
) -> dict[str, object]:
    """Copy the knowledge base, plant canaries, ingest it, and probe as every persona (through
    retrieval, and with `answers` through the answer pipeline too)."""
    embedder = embedder or SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory(prefix="pd-leakage-") as tmp_name:
        tmp = Path(tmp_name)
        copy = tmp / "kb"
        shutil.copytree(kb, copy, ignore=shutil.ignore_patterns("_build", "__pycache__"))
        canaries = load_canaries(copy / "canaries.yaml")
        planted = plant_canaries(copy, canaries) if plant else []
        everything = [*canaries, *planted]
        index = build_index(
            sources_file=copy / "sources.yaml",
            policy_file=copy / "policy.csv",
            workdir=tmp,
            embedder=embedder,
        )
        try:
            failed = {s: r.status for s, r in index.reports.items() if r.status != "succeeded"}
            if failed:
                raise RuntimeError(f"ingesting the knowledge base failed: {failed}")
            docs = {
                c.document: (copy / c.document).read_text(encoding="utf-8", errors="replace")
                for c in everything
            }
            result = probe(
                index.retrieval,
                index.policy,
                personas=load_personas(copy / "identities.yaml"),
                canaries=everything,
                questions=load_questions(copy / "questions.yaml"),
                documents=docs,
                modes=modes,
                answerer=_answerer(index, embedder) if answers else None,
            )
        finally:
            index.close()
    return {"kb": str(kb), "canaries": len(canaries), "planted": len(planted), **result.as_dict()}


def report(result: Mapping[str, object], *, command: str = "") -> SuiteReport:
    by_persona = result.get("by_persona")
    rows = [
        [name, str(c["searches"]), str(c["answers"]), str(c["leaked"]), str(c["unreadable"])]
        for name, c in (by_persona.items() if isinstance(by_persona, Mapping) else ())
    ]
    leaks = result.get("leaks")
    return SuiteReport(
        suite="leakage",
        title=f"Leakage: personas × canaries and questions over {result['kb']}",
        columns=["persona", "searches", "answers", "leaked passages", "unreadable passages"],
        rows=rows,
        metrics=dict(result),
        notes=[
            f"{result['canaries']} declared + {result['planted']} planted canaries, "
            f"{result['queries']} distinct queries, {result['searches']} searches (hybrid, BM25, "
            f"dense), {result['answers']} answers through AnswerService",
            f"leaked passages {result['leaked_passages']}, unreadable passages "
            f"{result['unreadable_passages']}, re-check drops {result['recheck_drops']}",
            "hidden canary vs a string that exists nowhere (BM25 hits and scores; answer status "
            "and refusal text): "
            f"{result['distinguishable_probes']} of {result['probe_pairs']} pairs distinguishable",
            f"readers found their canary {result['canary_hits_by_readers']} times",
            *(f"LEAK {line}" for line in (leaks if isinstance(leaks, list) else [])[:10]),
        ],
        command=command,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from evals.reporting import print_report

    parser = argparse.ArgumentParser(prog="python -m evals.leakage_eval", description=__doc__)
    parser.add_argument("--kb", type=Path, default=Path("kb"))
    args = parser.parse_args(argv)
    result = run(args.kb)
    print_report(report(result))
    return 0 if result["leaked_passages"] == 0 and result["unreadable_passages"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
