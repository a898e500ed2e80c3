"""The worlds the leakage suite probes: an index's retrieval and answer pipeline
(`pipeline_answerer`), and the counterfactual worlds (`Counterfactual`) in which the canaries
hidden from a persona exist nowhere, each ingested with a `MemoEmbedder` so it embeds only what
changed."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from evals.suites.leakage_kb import Canary, swap_canaries
from ingest.state import StateStore
from policies.access.engine import PolicyEngine
from policies.access.principal import Principal
from retrieval.embedding.embedder import Embedder
from retrieval.service import RetrievalService

if TYPE_CHECKING:
    from agent.pipeline import AnswerService

__all__ = [
    "AnswerView",
    "Answerer",
    "Closer",
    "Counterfactual",
    "MemoEmbedder",
    "World",
    "pipeline_answerer",
    "view_answers",
]


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


def view_answers(service: AnswerService, state: StateStore) -> Answerer:
    """What `service`'s answers show a user, with each cited document's access lists (from
    `state`, the index's state database)."""

    def answer(question: str, principal: Principal) -> AnswerView:
        got = service.answer(question, principal=principal)
        cited = []
        for c in got.citations:
            doc = state.document(c.document_id)
            read, deny = (doc.read, doc.deny) if doc else ((), ())
            cited.append((c.document_id, read, deny, c.quote))
        return AnswerView(got.status, got.answer, tuple(cited))

    return answer


def pipeline_answerer(
    *, retrieval: RetrievalService, policy: PolicyEngine, state: StateStore, embedder: Embedder
) -> Answerer:
    """The answer pipeline (`answer_service`: extractive composer, no reading model) over an
    index given by its parts (an `EvalIndex` has `evals.eval_index.answer_service_over`)."""
    from api.bootstrap.answering import answer_service

    service = answer_service(
        retrieval=retrieval, policy=policy, embedder=embedder, index_version=state.index_version
    )
    return view_answers(service, state)
