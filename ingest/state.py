"""Sync state, the embedding cache and job records, in SQL (SQLite by default, PostgreSQL by URL).

The vector store holds the chunks; this database remembers, per document, which version and
access list were last written, so an unchanged source costs no embedding and no store write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from infra.sql_sweep import LiveKeys, SweepCount, sweep
from infra.sql_upsert import dialect_insert
from infra.state_migrations import ensure_state_schema
from policies.pii.vocabulary import DocumentTerms, corpus_vocabulary

__all__ = [
    "DocumentState",
    "StateStore",
    "create_state_engine",
    "embedding_key",
]


class _Base(DeclarativeBase):
    pass


class _DocumentRow(_Base):
    __tablename__ = "pd_documents"
    document_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(Text)
    uri: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    doc_type: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(64))
    acl_hash: Mapped[str] = mapped_column(String(64))
    read_json: Mapped[str] = mapped_column(Text)
    deny_json: Mapped[str] = mapped_column(Text)
    chunk_count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _EmbeddingRow(_Base):
    __tablename__ = "pd_embedding_cache"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class _DocumentTermsRow(_Base):
    """What a document contributes to the corpus vocabulary (`policies.pii.vocabulary`)."""

    __tablename__ = "pd_document_terms"
    document_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    terms_json: Mapped[str] = mapped_column(Text)


class _MetaRow(_Base):
    __tablename__ = "pd_meta"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class DocumentState:
    document_id: str
    source_id: str
    key: str
    uri: str
    title: str
    doc_type: str
    version: str
    acl_hash: str
    read: tuple[str, ...]
    deny: tuple[str, ...]
    chunk_count: int
    updated_at: datetime


def embedding_key(model_id: str, embed_text: str) -> str:
    """The embedding cache's key: the model and exactly what it embedded."""
    digest = hashlib.sha256()
    for part in (model_id, embed_text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def create_state_engine(url: str) -> Engine:
    """An engine for the state database; SQLite gets WAL mode and a busy timeout."""
    if url.startswith("sqlite:///"):
        db_path = url.removeprefix("sqlite:///")
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _to_state(row: _DocumentRow) -> DocumentState:
    return DocumentState(
        document_id=row.document_id,
        source_id=row.source_id,
        key=row.key,
        uri=row.uri,
        title=row.title,
        doc_type=row.doc_type,
        version=row.version,
        acl_hash=row.acl_hash,
        read=tuple(json.loads(row.read_json)),
        deny=tuple(json.loads(row.deny_json)),
        chunk_count=row.chunk_count,
        updated_at=row.updated_at,
    )


class StateStore:
    """Per-document sync state, the content-hash embedding cache and a little metadata."""

    def __init__(self, *, engine: Engine) -> None:
        self._engine = engine
        ensure_state_schema(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # documents -----------------------------------------------------------------------------
    def documents(self, source_id: str) -> dict[str, DocumentState]:
        with self._session() as s:
            rows = s.scalars(select(_DocumentRow).where(_DocumentRow.source_id == source_id))
            return {r.document_id: _to_state(r) for r in rows}

    def document(self, document_id: str) -> DocumentState | None:
        with self._session() as s:
            row = s.get(_DocumentRow, document_id)
            return _to_state(row) if row is not None else None

    def save_documents(self, states: Iterable[DocumentState]) -> None:
        with self._session() as s:
            for st in states:
                s.merge(
                    _DocumentRow(
                        document_id=st.document_id,
                        source_id=st.source_id,
                        key=st.key,
                        uri=st.uri,
                        title=st.title,
                        doc_type=st.doc_type,
                        version=st.version,
                        acl_hash=st.acl_hash,
                        read_json=json.dumps(list(st.read)),
                        deny_json=json.dumps(list(st.deny)),
                        chunk_count=st.chunk_count,
                        updated_at=st.updated_at,
                    )
                )

    def forget_documents(self, document_ids: Sequence[str]) -> None:
        if not document_ids:
            return
        with self._session() as s:
            s.execute(delete(_DocumentRow).where(_DocumentRow.document_id.in_(document_ids)))
            s.execute(
                delete(_DocumentTermsRow).where(_DocumentTermsRow.document_id.in_(document_ids))
            )

    # corpus vocabulary ---------------------------------------------------------------------
    def save_document_terms(self, terms: Mapping[str, DocumentTerms]) -> None:
        """Record each document's capitalised words and pairs (replacing what it had)."""
        with self._session() as s:
            for document_id, found in terms.items():
                payload = {
                    "terms": sorted(found.terms),
                    "pairs": sorted(found.pairs),
                    "lowered": sorted(found.lowered),
                }
                s.merge(_DocumentTermsRow(document_id=document_id, terms_json=json.dumps(payload)))

    def corpus_vocabulary(self) -> frozenset[str]:
        """The indexed corpus's own words (see `policies.pii.vocabulary.corpus_vocabulary`)."""
        with self._session() as s:
            rows = s.execute(select(_DocumentTermsRow.terms_json)).scalars().all()
        documents = []
        for row in rows:
            payload = json.loads(row)
            documents.append(
                DocumentTerms(
                    terms=frozenset(payload["terms"]),
                    pairs=frozenset((a, b) for a, b in payload["pairs"]),
                    lowered=frozenset(payload["lowered"]),
                )
            )
        return corpus_vocabulary(documents)

    # embedding cache -----------------------------------------------------------------------
    def cached_embeddings(self, keys: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        found: dict[str, npt.NDArray[np.float32]] = {}
        with self._session() as s:
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                rows = s.execute(
                    select(_EmbeddingRow.key, _EmbeddingRow.vector).where(
                        _EmbeddingRow.key.in_(part)
                    )
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def cache_embeddings(self, vectors: Mapping[str, npt.NDArray[np.float32]]) -> None:
        if not vectors:
            return
        rows = [
            {"key": key, "vector": np.asarray(vec, dtype=np.float32).tobytes()}
            for key, vec in vectors.items()
        ]
        statement = dialect_insert(self._engine, _EmbeddingRow)
        with self._session() as s:
            s.execute(statement.on_conflict_do_nothing(index_elements=["key"]), rows)

    def sweep_embeddings(self, live: LiveKeys, *, dry_run: bool = False) -> SweepCount:
        """Delete the cached embeddings whose key is not in `live`."""
        return sweep(self._engine, _EmbeddingRow.key, live, dry_run=dry_run)

    # metadata ------------------------------------------------------------------------------
    def get_meta(self, name: str) -> str | None:
        with self._session() as s:
            row = s.get(_MetaRow, name)
            return row.value if row is not None else None

    def set_meta(self, name: str, value: str) -> None:
        with self._session() as s:
            s.merge(_MetaRow(name=name, value=value))

    def bump_index_version(self) -> str:
        """Record that the index changed; the new version goes into answer cache keys."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self.set_meta("index_version", stamp)
        return stamp

    def index_version(self) -> str:
        return self.get_meta("index_version") or "empty"
