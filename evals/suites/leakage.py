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

`leakage_kb` reads the ground truth and rewrites knowledge base copies; `leakage_worlds` holds
the answer pipeline's view and the counterfactual worlds. `run` builds its own index: a copy of
the knowledge base with extra canary documents planted next to each declared one (fresh random
strings every run, the same access lists by front matter).

    python -m evals.suites.leakage [--kb kb]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evals.eval_index import EvalIndex, answer_service_over, build_index
from evals.reporting import SuiteReport
from evals.suites.leakage_kb import (
    Canary,
    Persona,
    context_query,
    load_canaries,
    load_personas,
    load_questions,
    plant_canaries,
)
from evals.suites.leakage_worlds import (
    Answerer,
    Closer,
    Counterfactual,
    MemoEmbedder,
    World,
    view_answers,
)
from policies.access.engine import PolicyEngine
from policies.access.principal import Principal
from retrieval.embedding.embedder import Embedder, load_embedder
from retrieval.service import RetrievalRequest, RetrievalService
from retrieval.store import SearchMode

__all__ = ["LeakageResult", "probe", "report", "run"]

_MODES: tuple[SearchMode, ...] = ("hybrid", "sparse", "dense")


def _answerer(index: EvalIndex) -> Answerer:
    """The product's answer pipeline over `index` (`evals.eval_index.answer_service_over`)."""
    return view_answers(answer_service_over(index), index.state)


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
            return index.retrieval, _answerer(index) if answers else None, index.close

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
                answerer=_answerer(index) if answers else None,
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
