"""`EvalIndex`: an index built for an eval the way the product builds one.

An eval describes what it indexes as a `Settings` object (`eval_settings`: the product's
defaults, with the eval's sources, policy and paths under a work directory) and builds it
through the composition root: `api.bootstrap.components.Components` (the state database, the
policy, the embedder, the store, the sentence vectors), `api.bootstrap.index.build_ingest` (the
ingest pipeline `proofdesk sync` runs) and `build_retrieval` (the search the API serves). The
answer pipeline over it is `api.bootstrap.answering.answer_service` (`answer_service_over`).

Where an eval's composition differs from a served process, and why:
- `ingest.precompute_pii` is off: the stored PII findings only spare NER when answers are
  masked, the evals' answer pipelines mask nothing (the `pii` suites measure masking), and
  analysing every indexed sentence with spaCy would multiply ingest time.
- The answer pipeline has no guard, audit record, answer cache or LLM (the extractive
  composer answers): the suites measure retrieval, access and grounding, and read what they
  judge from the answer and its trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.settings import AgentSettings
from api.bootstrap.components import Components
from api.bootstrap.index import IngestContext, build_ingest, build_retrieval
from api.settings import Settings
from ingest.settings import IngestSettings
from policies.access.settings import PolicySettings
from retrieval.reading import ReaderSettings
from retrieval.service import RetrievalSettings
from retrieval.store_factory import EdgeStoreSettings

if TYPE_CHECKING:
    from agent.pipeline import AnswerService
    from agent.tracing.port import Tracer
    from ingest.report import SourceReport
    from ingest.state import StateStore
    from ingest.sync import IngestService
    from policies.access.casbin_engine import CasbinPolicyEngine
    from retrieval.embedding.embedder import Embedder
    from retrieval.sentence_vectors import SentenceVectors
    from retrieval.service import RetrievalService
    from retrieval.store import VectorStore

__all__ = ["EvalIndex", "answer_service_over", "build_index", "eval_settings"]


def eval_settings(
    *,
    workdir: Path,
    sources_file: Path,
    policy_file: Path,
    retrieval: RetrievalSettings | None = None,
    agent: AgentSettings | None = None,
    reader: ReaderSettings | None = None,
    state_db: Path | None = None,
) -> Settings:
    """The product's settings for an index under `workdir` (`index/`, `state.db`) of the sources
    in `sources_file` under the policy in `policy_file` (the module docstring says what else
    differs from a served process). `state_db`: the state database's file, instead of
    `workdir/state.db` (one kept between runs, such as a benchmark's sentence vectors)."""
    return Settings(
        ingest=IngestSettings(
            sources_file=sources_file,
            state_url=f"sqlite:///{state_db or workdir / 'state.db'}",
            precompute_pii=False,
        ),
        store=EdgeStoreSettings(path=workdir / "index"),
        policy=PolicySettings(policy_path=policy_file),
        retrieval=retrieval or RetrievalSettings(),
        agent=agent or AgentSettings(),
        reader=reader or ReaderSettings(),
    )


@dataclass
class EvalIndex:
    """A real index (Qdrant Edge + SQLite state) and its search, as the product builds them.
    `ingest` syncs a source again; `reports` are the syncs `build_index` ran."""

    parts: Components
    context: IngestContext
    retrieval: RetrievalService
    reports: dict[str, SourceReport]

    @property
    def settings(self) -> Settings:
        return self.parts.settings

    @property
    def ingest(self) -> IngestService:
        return self.context.runner.service

    @property
    def store(self) -> VectorStore:
        return self.context.store

    @property
    def state(self) -> StateStore:
        return self.context.state

    @property
    def policy(self) -> CasbinPolicyEngine:
        return self.parts.policy

    @property
    def sentences(self) -> SentenceVectors:
        return self.context.sentences

    def close(self) -> None:
        self.parts.close()


def build_index(
    *,
    sources_file: Path,
    policy_file: Path,
    workdir: Path,
    embedder: Embedder,
    sync: bool = True,
    settings: RetrievalSettings | None = None,
    agent: AgentSettings | None = None,
    reader: ReaderSettings | None = None,
    state_db: Path | None = None,
) -> EvalIndex:
    """Open (and with `sync`, ingest every enabled source into) the index under `workdir`, with
    `embedder` (a model the process already loaded). `settings`: the search's; `state_db`: see
    `eval_settings`."""
    chosen = eval_settings(
        workdir=workdir,
        sources_file=sources_file,
        policy_file=policy_file,
        retrieval=settings,
        agent=agent,
        reader=reader,
        state_db=state_db,
    )
    parts = Components(chosen, embedder=embedder)
    try:
        context = build_ingest(parts)
        reports: dict[str, SourceReport] = {}
        if sync:
            reports = {
                source.id: context.runner.run(source.id, trigger="cli").report
                for source in parts.registry.enabled()
            }
            context.store.optimize()
        retrieval = build_retrieval(parts)
    except BaseException:
        parts.close()
        raise
    return EvalIndex(parts=parts, context=context, retrieval=retrieval, reports=reports)


def answer_service_over(index: EvalIndex, *, tracer: Tracer | None = None) -> AnswerService:
    """The product's answer pipeline (`answer_service`) over `index`: its policy, embedder,
    sentence vectors, agent and reader settings (the module docstring says what it lacks)."""
    from api.bootstrap.answering import answer_service
    from retrieval.reading import shared_reader

    return answer_service(
        retrieval=index.retrieval,
        policy=index.policy,
        embedder=index.parts.embedder,
        index_version=index.state.index_version,
        settings=index.settings.agent,
        tracer=tracer,
        sentence_vectors=index.sentences,
        reader=shared_reader(index.settings.reader),
    )
