"""The bundled sample knowledge base, ingested once per test session with the real pipeline.

Qdrant Edge lets one process open a shard once, so the whole session shares this index; tests
that need to change an index build their own in a temp dir.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.chunking import Chunker
from ingest.connector_factory import connector_for
from ingest.report import SourceReport
from ingest.sources import SourceRegistry, load_sources
from ingest.state import StateStore, create_state_engine
from ingest.sync import IngestService
from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.settings import PolicySettings
from policies.injection import InjectionScreen
from retrieval.embedding.embedder import Embedder
from retrieval.sentence_vectors import SentenceVectors, SentenceVectorStore
from retrieval.service import RetrievalService
from retrieval.store import VectorStore
from retrieval.store_factory import EdgeStoreSettings, open_store

REPO = Path(__file__).resolve().parents[1]
KB = REPO / "kb"


@dataclass
class KbIndex:
    store: VectorStore
    state: StateStore
    registry: SourceRegistry
    embedder: Embedder
    policy: CasbinPolicyEngine
    retrieval: RetrievalService
    reports: dict[str, SourceReport]
    sentences: SentenceVectors  # what ingestion stored for answering

    def close(self) -> None:
        self.store.close()
        self.policy.close()


def build_kb_index(
    tmp: Path,
    embedder: Embedder,
    *,
    kb: Path = KB,
    policy_path: Path | None = None,
    flag_injection: bool = False,
) -> KbIndex:
    """Ingest the knowledge base at `kb` (the bundled one by default: its `sources.yaml`, and
    its `policy.csv` unless `policy_path` names another) into an index under `tmp`; with
    `flag_injection`, chunks are screened for injected instructions as the served ingest does."""
    screen = InjectionScreen() if flag_injection else None
    registry = load_sources(kb / "sources.yaml")
    engine = create_state_engine(f"sqlite:///{tmp / 'state.db'}")
    state = StateStore(engine=engine)
    sentences = SentenceVectors(
        embedder=embedder, store=SentenceVectorStore(engine=engine, dimension=embedder.dimension)
    )
    store = open_store(EdgeStoreSettings(path=tmp / "index"), dimension=embedder.dimension)
    service = IngestService(
        registry=registry,
        store=store,
        embedder=embedder,
        chunker=Chunker(tokens=embedder),
        state=state,
        connector_for=connector_for,
        sentence_vectors=sentences,
        flag_injection=(lambda text: screen.assess(text).suspected) if screen else None,
    )
    reports = {s.id: service.sync(s.id) for s in registry.enabled()}
    store.optimize()
    policy = CasbinPolicyEngine(
        settings=PolicySettings(policy_path=policy_path or kb / "policy.csv")
    )
    retrieval = RetrievalService(store=store, embedder=embedder, policy=policy)
    return KbIndex(store, state, registry, embedder, policy, retrieval, reports, sentences)
