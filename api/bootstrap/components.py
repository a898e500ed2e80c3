"""`Components`: the shared parts of one process, each built once, when first asked for.

A command, the server or an eval makes one `Components` from its settings and hands it to the
builders (`api.bootstrap.index`, `api.bootstrap.answering`, `api.bootstrap.server`); no other
module opens the state database, loads the redactor or the embedding model, or opens the index.
`close()` releases what was built, last built first.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from api.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from agent.audit.store import AuditStore
    from ingest.sources import SourceRegistry
    from ingest.state import StateStore
    from policies.access.casbin_engine import CasbinPolicyEngine
    from policies.pii.guard import PiiGuard
    from policies.pii.masking_worker import MaskingWorker
    from policies.pii.redaction import PresidioRedactor
    from policies.pii.settings import RedactionSettings
    from retrieval.embedding.embedder import Embedder
    from retrieval.sentence_vectors import SentenceVectors
    from retrieval.store import VectorStore

__all__ = ["Components", "served_redaction"]


class Components:
    """The process's shared parts over `settings`.

    `served`: the redactor is the served one (`served_redaction`, the corpus vocabulary kept
    in the state database). `findings`: the redactor reads and writes the PII findings
    precomputed for indexed text in the state database (off for commands that must not open
    it, such as the audit CLI's direct mode). `embedder`: a model this process already loaded
    (the tests' and the evals' shared one), used instead of loading `embedding`'s.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        served: bool = False,
        findings: bool = True,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        if embedder is not None:
            self.__dict__["embedder"] = embedder  # the cached part, already built
        self._served = served
        self._findings = findings
        self._closers: list[Callable[[], object]] = []
        self._store: VectorStore | None = None

    def built(self, member: str) -> bool:
        """Whether `member` (a cached part, such as "embedder") is already built."""
        return member in vars(self)

    # -- the state database

    @cached_property
    def state_engine(self) -> Engine:
        """The one engine over the state database (`ingest.state_url`)."""
        from ingest.state import create_state_engine

        engine = create_state_engine(self.settings.ingest.state_url)
        self._closers.append(engine.dispose)
        return engine

    @cached_property
    def state(self) -> StateStore:
        from ingest.state import StateStore

        return StateStore(engine=self.state_engine)

    @cached_property
    def registry(self) -> SourceRegistry:
        from ingest.sources import load_sources

        return load_sources(self.settings.ingest.sources_file)

    # -- access

    @cached_property
    def policy(self) -> CasbinPolicyEngine:
        from policies.access.casbin_engine import CasbinPolicyEngine

        policy = CasbinPolicyEngine(settings=self.settings.policy)
        self._closers.append(policy.close)
        return policy

    # -- PII

    @cached_property
    def redactor(self) -> PresidioRedactor:
        """The one redactor (spaCy loads once) behind the guard, the answer store and ingest's
        precomputed findings."""
        from policies.pii.redaction import PresidioRedactor

        engine = self.state_engine if self._findings else None
        if self._served:
            from policies.pii.vocabulary import CorpusVocabulary

            # The corpus's own words (collected at ingest) are not names: evidence stays readable.
            redactor = PresidioRedactor(
                settings=served_redaction(self.settings),
                findings_engine=engine,
                vocabulary=CorpusVocabulary(load=self.state.corpus_vocabulary),
            )
        else:
            redactor = PresidioRedactor(settings=self.settings.redaction, findings_engine=engine)
        self._closers.append(redactor.close)
        return redactor

    @cached_property
    def pii_scanner(self) -> PresidioRedactor:
        """Patterns only, in this process (no spaCy, no analysis workers): ingest's "does this
        chunk hold PII" flag and the retention job, which masks nothing it keeps."""
        from policies.pii.redaction import PresidioRedactor

        scanner = PresidioRedactor(
            settings=self.settings.redaction.model_copy(
                update={"engine": "patterns", "analysis_processes": 0}
            )
        )
        self._closers.append(scanner.close)
        return scanner

    @cached_property
    def scanner_guard(self) -> PiiGuard:
        """A guard over `pii_scanner`, for stores opened only to delete (the retention job)."""
        from policies.pii.guard import PiiGuard

        return PiiGuard(redactor=self.pii_scanner)

    @cached_property
    def guard(self) -> PiiGuard:
        """The request-scoped masking over `redactor`."""
        from policies.pii.guard import PiiGuard

        return PiiGuard(redactor=self.redactor)

    @cached_property
    def masking_worker(self) -> MaskingWorker:
        """Masking (spaCy NER) off the request thread: values are masked there before they
        reach the tracing SDK or the audit database. Closing drains it."""
        from policies.pii.masking_worker import MaskingWorker

        worker = MaskingWorker()
        self._closers.append(worker.close)
        return worker

    def audit_store(
        self, *, masking: Literal["full", "scanner"] = "full", background: bool = False
    ) -> AuditStore:
        """A new audit record over `audit`, which the caller closes (before the masking worker
        it may use). `masking="scanner"`: the patterns-only guard, for a store opened to delete
        (retention), which masks nothing and need not load spaCy. `background`: records are
        masked and written on the process's masking worker (the served path)."""
        from agent.audit.store import AuditStore

        guard = self.scanner_guard if masking == "scanner" else self.guard
        worker = self.masking_worker if background else None
        return AuditStore.from_settings(self.settings.audit, guard=guard, worker=worker)

    # -- the index

    @cached_property
    def embedder(self) -> Embedder:
        """The embedding model, loaded once however often the index is retried."""
        from retrieval.embedding.embedder import load_embedder

        return load_embedder(self.settings.embedding)

    @property
    def store(self) -> VectorStore:
        """The vector index, opened on first use (raises `StoreLockedError` when another
        process holds it; the next call tries again)."""
        if self._store is None:
            from retrieval.store_factory import open_store

            self._store = open_store(self.settings.store, dimension=self.embedder.dimension)
        return self._store

    def release_store(self) -> None:
        """Close the index (flushed, its lock released); a later `store` opens it again."""
        store, self._store = self._store, None
        if store is not None:
            store.close()

    @cached_property
    def sentences(self) -> SentenceVectors:
        """Sentence vectors kept in the state database, next to the chunk embedding cache:
        ingestion writes them and answering reads them."""
        from retrieval.sentence_vectors import SentenceVectors, SentenceVectorStore

        return SentenceVectors(
            embedder=self.embedder,
            store=SentenceVectorStore(engine=self.state_engine, dimension=self.embedder.dimension),
        )

    def __enter__(self) -> Components:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release what was built, last built first (the index before everything else)."""
        self.release_store()
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            close()


def served_redaction(settings: Settings) -> RedactionSettings:
    """The redaction settings of a served API: unless configured, PII analysis runs in two
    worker processes when the machine has a second CPU (`redaction.analysis_processes`). With
    one, concurrent requests queued for it: two served 11-14% more chat requests per second
    than one in alternating runs on the 2-core benchmark machine (docs/benchmarks.md)."""
    if settings.redaction.analysis_processes is not None:
        return settings.redaction
    processes = 2 if (os.cpu_count() or 1) >= 2 else 0
    return settings.redaction.model_copy(update={"analysis_processes": processes})
