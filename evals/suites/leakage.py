"""Leakage: every persona asks for every canary, and for every question, in every search mode.

Ground truth is independent of the policy engine: each canary declares its readers and denied
principals (`kb/canaries.yaml`), and a persona's principals come from `identities.yaml` (direct
groups expanded through its nested `groups`). A passage is **leaked** when a search returns text
holding a canary the persona may not see, or an answer (`AnswerService`) shows one in its text
or a citation's quote; a passage is **unreadable** when its own access lists (read/deny on the
chunk, or on the cited document) do not admit the persona. Both must be 0, as must re-check
drops (a chunk the index filter let through but the policy re-check refused).

Indistinguishability: a refusal or a ranking must not reveal that a hidden string exists. The
suite compares two worlds: the index as it is, and a counterfactual index of the same knowledge
base in which every canary string is replaced by a twin (same prefix, random suffix) that the
probes never ask for. For a persona who may not see a canary, searching for it in hybrid, BM25 and
dense mode must return exactly the same passages with the same scores in both worlds, and the
answer pipeline the same status, text and citations. The worlds differ only in the hidden text,
so any difference is information about it. (Comparing the canary with its twin inside one index
would not do: the dense model embeds two different strings differently, so status flips there
are noise, not evidence.)

`run` builds its own index: a copy of the knowledge base with extra canary documents planted next
to each declared one (fresh random strings every run, the same access lists by front matter).

    python -m evals.suites.leakage [--kb kb]
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

import numpy as np
import numpy.typing as npt
import yaml

from evals.reporting import SuiteReport
from evals.suites.retrieval import EvalIndex, build_index
from ingest.state import StateStore
from policies.access.engine import PolicyEngine
from policies.access.principal import PUBLIC, Principal, group_ref, user_ref
from retrieval.embedding.embedder import Embedder, load_embedder
from retrieval.service import RetrievalRequest, RetrievalService
from retrieval.store import SearchMode

__all__ = [
    "Canary",
    "Counterfactual",
    "LeakageResult",
    "MemoEmbedder",
    "Persona",
    "load_canaries",
    "load_personas",
    "load_questions",
    "plant_canaries",
    "probe",
    "report",
    "run",
    "swap_canaries",
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


World = tuple[RetrievalService, "Answerer | None"]
Closer = Callable[[], None]


class MemoEmbedder:
    """An `Embedder` that remembers every vector it computed, so that the counterfactual worlds
    (the same knowledge base ingested again with a few strings changed) embed only what changed.
    Memoisation only: the vectors are the wrapped model's own."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._documents: dict[str, npt.NDArray[np.float32]] = {}
        self._queries: dict[str, npt.NDArray[np.float32]] = {}

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def max_tokens(self) -> int:
        return self._inner.max_tokens

    def count(self, texts: Sequence[str]) -> list[int]:
        return self._inner.count(texts)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self._inner.token_spans(text)

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._documents))
        if missing:
            self._documents.update(zip(missing, self._inner.embed_documents(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._documents[t] for t in texts])

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        if text not in self._queries:
            self._queries[text] = self._inner.embed_query(text)
        return self._queries[text]


class Counterfactual:
    """The other worlds: for a set of hidden canaries, the same knowledge base with exactly those
    canary strings replaced by twins, so that they exist nowhere (see the module docstring).

    `build(kb_dir, workdir)` ingests a knowledge base the way the actual index was ingested and
    returns its retrieval service, answerer and a close function. Worlds are built on first use
    and kept until `close`; pass it a `MemoEmbedder` so each world embeds only what changed.
    """

    def __init__(
        self,
        *,
        kb: Path,
        workdir: Path,
        build: Callable[[Path, Path], tuple[RetrievalService, Answerer | None, Callable[[], None]]],
    ) -> None:
        self._kb = kb
        self._workdir = workdir
        self._build = build
        self._worlds: dict[frozenset[Canary], World] = {}
        self._closers: list[Callable[[], None]] = []

    def world(self, hidden: Sequence[Canary]) -> World:
        key = frozenset(hidden)
        if key not in self._worlds:
            n = len(self._worlds)
            copy = self._workdir / f"kb-{n}"
            shutil.copytree(self._kb, copy, ignore=shutil.ignore_patterns("_build", "__pycache__"))
            swap_canaries(copy, sorted(key, key=lambda c: c.string))
            workdir = self._workdir / f"index-{n}"
            workdir.mkdir()
            retrieval, answerer, close = self._build(copy, workdir)
            self._closers.append(close)
            self._worlds[key] = (retrieval, answerer)
        return self._worlds[key]

    def close(self) -> None:
        for close in self._closers:
            close()
        self._closers.clear()
        self._worlds.clear()


def pipeline_answerer(
    *, retrieval: RetrievalService, policy: PolicyEngine, state: StateStore, embedder: Embedder
) -> Answerer:
    """The real answer pipeline (`AnswerService`, extractive composer) over an index."""
    from api.bootstrap.answering import answer_service

    service = answer_service(
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


def swap_canaries(kb: Path, canaries: Sequence[Canary]) -> None:
    """Rewrite `kb` (a copy) so that each canary string is replaced by a fresh twin."""
    for canary in canaries:
        path = kb / canary.document
        text = path.read_text(encoding="utf-8")
        if canary.string not in text:
            raise ValueError(f"{canary.document} does not hold its canary {canary.string!r}")
        path.write_text(text.replace(canary.string, twin(canary.string)), encoding="utf-8")


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
    distinctions: list[str] = field(default_factory=list)  # what told a hidden canary apart
    by_persona: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        skip = ("leaks", "distinctions")
        return {k: v for k, v in self.__dict__.items() if k not in skip} | {
            "leaks": self.leaks[:50],
            "distinctions": self.distinctions[:50],
        }


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
    counterfactual: Counterfactual | None = None,
) -> LeakageResult:
    """Every persona × (canary strings, canary context sentences, questions) × mode; with an
    `answerer`, every persona also asks the canary strings and context sentences.

    `documents` maps a canary's document path to its text, for the context questions. With a
    `counterfactual`, every hidden canary is also searched and asked in both worlds (see the
    module docstring) and each pair that differs counts as distinguishable.
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
        if counterfactual is not None and hidden:
            other = counterfactual.world(hidden)
            for canary in hidden:
                result.probe_pairs += 1
                differs = _differences(
                    (retrieval, answerer), other, principal, canary.string, modes
                )
                if differs:
                    result.distinguishable_probes += 1
                    result.distinctions.append(f"{persona.name} {canary.string!r}: {differs}")
        counts = checker.counts
        result.searches += counts["searches"]
        result.answers += counts["answers"]
        result.leaked_passages += counts["leaked"]
        result.unreadable_passages += counts["unreadable"]
        result.by_persona[persona.name] = counts
    return result


def _differences(
    actual: World,
    counterfactual: World,
    principal: Principal,
    query: str,
    modes: Sequence[SearchMode],
) -> list[str]:
    """What differs between the two worlds for `query` asked by `principal` (empty: nothing)."""

    def hits(retrieval: RetrievalService, mode: SearchMode) -> list[tuple[str, float]]:
        found = retrieval.retrieve(
            RetrievalRequest(query=query, principal=principal, top_k=20, mode=mode)
        )
        return [(c.hit.chunk.chunk_id, round(c.hit.score, 5)) for c in found.chunks]

    (retrieval, answerer), (other_retrieval, other_answerer) = actual, counterfactual
    differs = [
        f"{mode} hits" for mode in modes if hits(retrieval, mode) != hits(other_retrieval, mode)
    ]
    if answerer is not None and other_answerer is not None:
        a, b = answerer(query, principal), other_answerer(query, principal)
        if (a.status, a.text, [c[0] for c in a.cited]) != (
            b.status,
            b.text,
            [c[0] for c in b.cited],
        ):
            differs.append(f"answer {a.status} vs {b.status}")
    return differs


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
    embedder = embedder or load_embedder()
    with tempfile.TemporaryDirectory(prefix="pd-leakage-") as tmp_name:
        tmp = Path(tmp_name)
        copy = tmp / "kb"
        shutil.copytree(kb, copy, ignore=shutil.ignore_patterns("_build", "__pycache__"))
        canaries = load_canaries(copy / "canaries.yaml")
        planted = plant_canaries(copy, canaries) if plant else []
        everything = [*canaries, *planted]
        memo = MemoEmbedder(embedder)

        def build(kb_dir: Path, workdir: Path) -> tuple[RetrievalService, Answerer | None, Closer]:
            index = _ingested(kb_dir, workdir, memo)
            return index.retrieval, _answerer(index, memo) if answers else None, index.close

        index = _ingested(copy, tmp / "actual", memo)
        worlds = Counterfactual(kb=copy, workdir=tmp, build=build)
        try:
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
                answerer=_answerer(index, memo) if answers else None,
                counterfactual=worlds,
            )
        finally:
            worlds.close()
            index.close()
    return {"kb": str(kb), "canaries": len(canaries), "planted": len(planted), **result.as_dict()}


def _ingested(kb: Path, workdir: Path, embedder: Embedder) -> EvalIndex:
    workdir.mkdir(exist_ok=True)
    index = build_index(
        sources_file=kb / "sources.yaml",
        policy_file=kb / "policy.csv",
        workdir=workdir,
        embedder=embedder,
    )
    failed = {s: r.status for s, r in index.reports.items() if r.status != "succeeded"}
    if failed:
        index.close()
        raise RuntimeError(f"ingesting the knowledge base {kb} failed: {failed}")
    return index


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
            "hidden canary, this index vs one where it exists nowhere (hits and scores in "
            "every mode; answer status, text and citations): "
            f"{result['distinguishable_probes']} of {result['probe_pairs']} pairs distinguishable",
            f"readers found their canary {result['canary_hits_by_readers']} times",
            *(f"LEAK {line}" for line in (leaks if isinstance(leaks, list) else [])[:10]),
        ],
        command=command,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from evals.reporting import print_report

    parser = argparse.ArgumentParser(prog="python -m evals.suites.leakage", description=__doc__)
    parser.add_argument("--kb", type=Path, default=Path("kb"))
    args = parser.parse_args(argv)
    result = run(args.kb)
    print_report(report(result))
    return 0 if result["leaked_passages"] == 0 and result["unreadable_passages"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
