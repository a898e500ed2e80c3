"""Incremental, resumable sync of one approved source into the vector store.

Order of writes, per batch of documents: embed (cached by content hash), and embed the new
chunks' sentence units for answering (`retrieval.sentence_vectors`) → upsert the new
version's chunks → delete the document's other versions → flush the store → record the new
state. A crash at any point leaves either the old or the new version queryable, and a re-run
finishes the job: upserts are idempotent (stable chunk ids), and a final reconciliation removes
chunks whose document or version the state does not know.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from ingest.acl import AccessResolutionError, apply_front_matter
from ingest.chunking import Chunker
from ingest.connectors import Connector, ListingTruncatedError, SourceUnavailableError
from ingest.documents import (
    AccessList,
    ChunkDraft,
    FetchedDocument,
    FetchFailure,
    FrontMatterError,
    ParsedDocument,
    ParseError,
)
from ingest.formats.limits import ParseLimits
from ingest.parsing import parse_document
from ingest.report import SourceReport
from ingest.sources import SourceConfig, SourceRegistry
from ingest.state import DocumentState, StateStore, embedding_key
from policies.pii.vocabulary import document_terms
from retrieval.embedding.embedder import Embedder
from retrieval.records import ChunkRecord, chunk_id_for
from retrieval.sentence_vectors import SentenceVectors, shown_texts
from retrieval.store import VectorStore

__all__ = ["IngestService", "ProgressEvent", "document_id_for"]

log = logging.getLogger(__name__)

ProgressEvent = Literal["document", "batch"]
ProgressCallback = Callable[[ProgressEvent, int], None]
TextFlag = Callable[[str], bool]


def document_id_for(source_id: str, key: str) -> str:
    """Stable across runs: the source and the document's key within it."""
    return f"{source_id}:{key}"


def _sha(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _acl_hash(access: AccessList) -> str:
    return _sha("read", *sorted(access.read), "deny", *sorted(access.deny))[:32]


class _QuarantineError(Exception):
    """A document that must not be (or stay) indexed; the message says why."""


@dataclass
class _PendingDocument:
    fetched: FetchedDocument
    parsed: ParsedDocument
    access: AccessList
    version: str
    drafts: list[ChunkDraft]
    is_new: bool


@dataclass
class _Batch:
    documents: list[_PendingDocument] = field(default_factory=list)
    chunks: int = 0

    def add(self, doc: _PendingDocument) -> None:
        self.documents.append(doc)
        self.chunks += len(doc.drafts)


class IngestService:
    """Syncs approved sources: embeds only what changed, updates access in place, guards wipes."""

    def __init__(
        self,
        *,
        registry: SourceRegistry,
        store: VectorStore,
        embedder: Embedder,
        chunker: Chunker,
        state: StateStore,
        connector_for: Callable[[SourceConfig], Connector],
        batch_chunks: int = 256,
        flag_pii: TextFlag | None = None,
        flag_injection: TextFlag | None = None,
        sentence_vectors: SentenceVectors | None = None,
        pii_findings: Callable[[Sequence[str]], int] | None = None,
        parse_limits: ParseLimits | None = None,
    ) -> None:
        """`sentence_vectors`: where each new chunk's sentence units are embedded and stored for
        answering; `pii_findings`: stores the PII findings of those sentences (and their exact
        quotes), so masking an answer that quotes them runs no NER; `parse_limits`: bounds on
        parsing one document (a document over one is a reported failure)."""
        self._parse_limits = parse_limits or ParseLimits()
        self._registry = registry
        self._sentence_vectors = sentence_vectors
        self._pii_findings = pii_findings
        self._store = store
        self._embedder = embedder
        self._chunker = chunker
        self._state = state
        self._connector_for = connector_for
        self._batch_chunks = batch_chunks
        self._flag_pii = flag_pii
        self._flag_injection = flag_injection

    @property
    def registry(self) -> SourceRegistry:
        return self._registry

    def sync(
        self,
        source_id: str,
        *,
        allow_mass_delete: bool = False,
        progress: ProgressCallback | None = None,
    ) -> SourceReport:
        """Bring the index in line with one source; never raises for a source's own problems."""
        source = self._registry.get(source_id)
        started = time.monotonic()
        report = SourceReport(source_id=source_id)
        known = self._state.documents(source_id)
        seen: set[str] = set()
        batch = _Batch()
        try:
            for item in self._connector_for(source).scan():
                self._take(item, source=source, known=known, seen=seen, batch=batch, report=report)
                if progress is not None:
                    progress("document", 1)
                if batch.chunks >= self._batch_chunks:
                    self._write(batch, report, progress)
                    batch = _Batch()
            self._write(batch, report, progress)
        except ListingTruncatedError as exc:
            self._write(batch, report, progress)
            report.deletions_skipped = f"{exc}; the listing is incomplete, nothing was deleted"
        except SourceUnavailableError as exc:
            self._write(batch, report, progress)
            report.error = str(exc)
            report.deletions_skipped = "the source could not be read: nothing was deleted"
        if report.deletions_skipped is None:
            self._delete_missing(source, known, seen, report, allow_mass_delete=allow_mass_delete)
        if report.error is None:
            self._reconcile(source_id, report)
        if report.added or report.updated or report.deleted or report.acl_changed:
            self._state.bump_index_version()
        report.duration_seconds = round(time.monotonic() - started, 3)
        report.finish()
        return report

    # one item --------------------------------------------------------------------------------
    def _take(
        self,
        item: FetchedDocument | FetchFailure,
        *,
        source: SourceConfig,
        known: dict[str, DocumentState],
        seen: set[str],
        batch: _Batch,
        report: SourceReport,
    ) -> None:
        if isinstance(item, FetchFailure) and item.kind == "gone":
            return  # not seen: deleted below, under the wipe guard
        doc_id = document_id_for(source.id, item.key)
        seen.add(doc_id)
        try:
            pending = self._prepare(item, known.get(doc_id), report)
        except _QuarantineError as exc:
            report.add_failure(item.key, f"not indexed: {exc}", "quarantined")
            self._unindex(doc_id, known)
            return
        if pending is not None:
            batch.add(pending)

    def _prepare(
        self,
        item: FetchedDocument | FetchFailure,
        previous: DocumentState | None,
        report: SourceReport,
    ) -> _PendingDocument | None:
        """Parse and classify one item; None when there is nothing to embed.

        Raises `_QuarantineError` when the document must not be (or stay) indexed.
        """
        if isinstance(item, FetchFailure):
            if item.kind == "quarantined":
                raise _QuarantineError(item.reason)
            report.add_failure(item.key, item.reason, "failed")
            return None
        if item.access is None:
            raise _QuarantineError(item.access_error or "access list could not be resolved")
        try:
            parsed = parse_document(
                item.data,
                item.doc_type,
                fallback_title=_fallback_title(item),
                limits=self._parse_limits,
            )
        except FrontMatterError as exc:
            raise _QuarantineError(str(exc)) from exc
        except ParseError as exc:
            self._keep_unparsable(item, previous, str(exc))
            report.add_failure(item.key, str(exc), "failed")
            return None
        try:
            access = apply_front_matter(item.access, parsed.front_matter)
        except AccessResolutionError as exc:
            raise _QuarantineError(str(exc)) from exc
        version = _sha(parsed.title, parsed.text)[:32]
        if previous is not None and previous.version == version:
            if previous.acl_hash == _acl_hash(access):
                report.unchanged += 1
            else:
                self._update_access(previous, access)
                report.acl_changed += 1
            return None
        drafts = self._chunker.chunk(parsed)
        if not drafts:
            report.add_failure(item.key, "the document has no text to index", "failed")
            return None
        return _PendingDocument(item, parsed, access, version, drafts, previous is None)

    def _keep_unparsable(
        self, item: FetchedDocument, previous: DocumentState | None, reason: str
    ) -> None:
        """The indexed version of a document that no longer parses stays, under today's access.

        Raises `_QuarantineError` for Markdown: its access depends on its front matter, which
        an unparsable file no longer shows, so the indexed version's access cannot be checked.
        """
        if previous is None or item.access is None:
            return
        if item.doc_type == "md":
            raise _QuarantineError(f"{reason}; its front matter (access) cannot be checked")
        if previous.acl_hash != _acl_hash(item.access):
            self._update_access(previous, item.access)

    def _update_access(self, previous: DocumentState, access: AccessList) -> None:
        self._store.set_document_access(previous.document_id, read=access.read, deny=access.deny)
        self._store.flush()
        self._state.save_documents(
            [
                DocumentState(
                    **{
                        **previous.__dict__,
                        "read": access.read,
                        "deny": access.deny,
                        "acl_hash": _acl_hash(access),
                        "updated_at": datetime.now(UTC),
                    }
                )
            ]
        )

    def _unindex(self, doc_id: str, known: dict[str, DocumentState]) -> None:
        """Fail closed: a document that can no longer be indexed safely leaves the index."""
        if doc_id in known:
            self._store.delete_document(doc_id)
            self._store.flush()
            self._state.forget_documents([doc_id])
            del known[doc_id]

    # a batch ---------------------------------------------------------------------------------
    def _write(
        self, batch: _Batch, report: SourceReport, progress: ProgressCallback | None
    ) -> None:
        if not batch.documents:
            return
        now = datetime.now(UTC)
        records: list[ChunkRecord] = []
        embed_texts: list[str] = []
        for doc in batch.documents:
            for draft in doc.drafts:
                records.append(self._record(doc, draft, now))
                embed_texts.append(draft.embed_text)
        vectors = self._vectors(embed_texts, report)
        if self._sentence_vectors is not None:
            # Before the chunks become searchable: answering finds their sentences embedded.
            entries, embedded = self._sentence_vectors.for_chunks(records)
            report.sentence_chunks_embedded += embedded
            if self._pii_findings is not None:
                report.pii_segments_analysed += self._pii_findings(
                    shown_texts(records, [e.sentences for e in entries])
                )
        self._store.upsert(records, vectors)
        for doc in batch.documents:
            self._store.delete_document(_doc_id(doc), keep_version=doc.version)
        self._store.flush()
        self._state.save_documents(self._state_of(doc, now) for doc in batch.documents)
        self._state.save_document_terms(
            {_doc_id(doc): document_terms(doc.parsed.text) for doc in batch.documents}
        )
        report.chunks_written += len(records)
        for doc in batch.documents:
            if doc.is_new:
                report.added += 1
            else:
                report.updated += 1
        if progress is not None:
            progress("batch", len(records))

    def _vectors(self, texts: Sequence[str], report: SourceReport) -> list[list[float]]:
        model = self._embedder.model_id
        keys = [embedding_key(model, t) for t in texts]
        cached = self._state.cached_embeddings(sorted(set(keys)))
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items()
        )
        if missing:
            fresh = self._embedder.embed_documents([t for _, t in missing])
            new = {k: fresh[i] for i, (k, _) in enumerate(missing)}
            self._state.cache_embeddings(new)
            cached.update(new)
        report.chunks_embedded += len(missing)
        report.chunks_reused += len(texts) - len(missing)
        matrix = np.stack([cached[k] for k in keys])
        return matrix.tolist()  # type: ignore[no-any-return]

    def _record(self, doc: _PendingDocument, draft: ChunkDraft, now: datetime) -> ChunkRecord:
        doc_id = _doc_id(doc)
        content_hash = _sha(draft.text)[:32]
        uri = doc.fetched.uri + (f"#{draft.anchor}" if draft.anchor else "")
        return ChunkRecord(
            chunk_id=chunk_id_for(doc_id, draft.ordinal, content_hash),
            document_id=doc_id,
            source_id=doc.fetched.source_id,
            title=doc.parsed.title,
            heading_path=draft.heading_path,
            uri=uri,
            start=draft.start,
            end=draft.end,
            text=draft.text,
            content_hash=content_hash,
            document_version=doc.version,
            read=doc.access.read,
            deny=doc.access.deny,
            doc_type=doc.fetched.doc_type,
            ordinal=draft.ordinal,
            pii_found=bool(self._flag_pii and self._flag_pii(draft.text)),
            injection_suspected=bool(self._flag_injection and self._flag_injection(draft.text)),
            modified_at=doc.fetched.modified_at,
            indexed_at=now,
        )

    def _state_of(self, doc: _PendingDocument, now: datetime) -> DocumentState:
        return DocumentState(
            document_id=_doc_id(doc),
            source_id=doc.fetched.source_id,
            key=doc.fetched.key,
            uri=doc.fetched.uri,
            title=doc.parsed.title,
            doc_type=doc.fetched.doc_type,
            version=doc.version,
            acl_hash=_acl_hash(doc.access),
            read=doc.access.read,
            deny=doc.access.deny,
            chunk_count=len(doc.drafts),
            updated_at=now,
        )

    # deletions -------------------------------------------------------------------------------
    def _delete_missing(
        self,
        source: SourceConfig,
        known: dict[str, DocumentState],
        seen: set[str],
        report: SourceReport,
        *,
        allow_mass_delete: bool,
    ) -> None:
        gone = sorted(d for d in known if d not in seen)
        if not gone:
            return
        remaining = len(known) - len(gone)
        if not allow_mass_delete and remaining < source.min_keep_ratio * len(known):
            report.deletions_skipped = (
                f"{len(gone)} of {len(known)} indexed documents are no longer listed, more than "
                f"the wipe guard allows (min_keep_ratio={source.min_keep_ratio}); nothing was "
                "deleted. Re-run with --allow-mass-delete if this is intended."
            )
            return
        for doc_id in gone:
            self._store.delete_document(doc_id)
        self._store.flush()
        self._state.forget_documents(gone)
        report.deleted += len(gone)

    def _reconcile(self, source_id: str, report: SourceReport) -> None:
        """Make the index and the state agree after a run that was killed half-way.

        Chunks of a document or version the state does not know are removed; a document the
        state records but the index lacks is forgotten, so the next run indexes it again.
        """
        current = self._state.documents(source_id)
        indexed = self._store.document_versions(source_id)
        removed = 0
        for doc_id, versions in indexed.items():
            state = current.get(doc_id)
            if state is None:
                self._store.delete_document(doc_id)
                removed += 1
            elif versions != {state.version}:
                self._store.delete_document(doc_id, keep_version=state.version)
                removed += 1
        if removed:
            self._store.flush()
            log.info("reconciled %d documents with stray chunks in source %s", removed, source_id)
        lost = [
            doc_id for doc_id, st in current.items() if st.version not in indexed.get(doc_id, ())
        ]
        if lost:
            log.warning("%d documents of %s are missing from the index", len(lost), source_id)
            self._state.forget_documents(lost)
        report.orphans_removed = removed


def _doc_id(doc: _PendingDocument) -> str:
    return document_id_for(doc.fetched.source_id, doc.fetched.key)


def _fallback_title(doc: FetchedDocument) -> str:
    name = doc.key.rstrip("/").rsplit("/", 1)[-1] or doc.key
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem.replace("-", " ").replace("_", " ").strip().capitalize() or doc.key
