"""Sentence units of each chunk and their embeddings, computed once and kept in SQL.

Answering compares the question with every candidate sentence of its evidence, in two framings
(the sentence alone, and after its document title and headings). Embedding those per request
cost ~1 s for a helpdesk question; ingestion instead cuts each new chunk into sentence units
(`retrieval.sentences`) and embeds them once, next to the chunk's own vector, and answering
reads them back. Rows are keyed by the embedding model, the chunk's frame and its content hash,
so a chunk that did not change is never embedded again, and two chunks with the same text and
headings share a row. Vectors are kept as float16 (cosines move by < 1e-3).

`SentenceVectors.for_chunks` is the one entry point: store lookup, one batched embedding call
for what is missing, write-back. Without a store it only embeds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, LargeBinary, String, Text, and_, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from infra.sql_sweep import LiveKeys, SweepCount, sweep
from infra.sql_upsert import dialect_insert
from infra.state_migrations import ensure_state_schema
from policies.injection import InjectionScreen
from retrieval.embedding.embedder import Embedder
from retrieval.records import ChunkRecord
from retrieval.sentences import UNITS_VERSION, EvidenceSentence, sentence_units

__all__ = [
    "ChunkSentences",
    "SentenceVectorStore",
    "SentenceVectors",
    "section_label",
    "sentence_key",
    "shown_texts",
    "subheadings",
]

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ChunkSentences:
    """Every sentence unit of one chunk (nothing left out yet) with its two vectors, and which
    units read as instructions to an assistant by the screen whose fingerprint is `screen`."""

    sentences: tuple[EvidenceSentence, ...]
    vectors: Vector  # of each sentence alone
    context_vectors: Vector  # of "<title — headings>: <sentence>"
    instructions: tuple[bool, ...] = ()  # per unit; meaningful when `screen` is set
    screen: str = ""  # fingerprint of the InjectionScreen that judged `instructions`


def shown_texts(
    chunks: Sequence[ChunkRecord], units: Sequence[Sequence[EvidenceSentence]]
) -> list[str]:
    """Everything of these chunks that an answer citing them shows, and so masks before it is
    logged, traced or audited: each chunk's title and URI, and each sentence unit as displayed
    and as quoted verbatim. Ingestion stores the PII findings of exactly these texts, so that
    masking a served answer analyses only what the user wrote."""
    return [
        text
        for chunk, sentences in zip(chunks, units, strict=True)
        for text in (
            chunk.title,
            chunk.uri,
            *(t for u in sentences for t in (u.display, chunk.text[u.start : u.end])),
        )
    ]


def subheadings(chunk: ChunkRecord) -> list[str]:
    """The chunk's headings below its document title."""
    headings = [" ".join(h.split()) for h in chunk.heading_path]
    if headings and headings[0].casefold() == " ".join(chunk.title.split()).casefold():
        headings = headings[1:]
    return headings


def section_label(chunk: ChunkRecord) -> str:
    """`Title — Heading › Subheading`, the frame a sentence is also embedded in."""
    title = " ".join(chunk.title.split())
    return " — ".join(part for part in (title, " › ".join(subheadings(chunk))) if part)


def _frame(chunk: ChunkRecord, unit: EvidenceSentence) -> str:
    """The frame a unit is embedded in: the chunk's section label, and a list item's label
    ("Setting up the VPN — Installing the client › macOS")."""
    label = section_label(chunk)
    return f"{label} › {unit.context}" if unit.kind == "item" and unit.context else label


def sentence_key(model_id: str, chunk: ChunkRecord) -> str:
    """What a chunk's sentence vectors depend on: the model, the headings, the text and how
    text is cut into units (`UNITS_VERSION`)."""
    frame = "\x1f".join((chunk.title, *chunk.heading_path))
    keyed = f"{model_id}\x1e{frame}\x1e{chunk.text}\x1e{UNITS_VERSION}"
    return hashlib.sha256(keyed.encode()).hexdigest()


class _Base(DeclarativeBase):
    pass


class _SentenceRow(_Base):
    __tablename__ = "sentence_vectors"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    units: Mapped[str] = mapped_column(Text)  # JSON: [[start, end, display, context, kind, block]]
    vectors: Mapped[bytes] = mapped_column(LargeBinary)  # float16, plain rows then framed rows


class _ScreenRow(_Base):
    __tablename__ = "sentence_screens"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # the sentence_key
    screen: Mapped[str] = mapped_column(String(64))  # InjectionScreen.fingerprint
    flags: Mapped[str] = mapped_column(Text)  # "0"/"1" per unit: reads as an instruction


class SentenceVectorStore:
    """Rows of sentence units and vectors by `sentence_key`, in the state database, and the
    injection screen's verdict on each unit (a table of its own, rewritten when the screen's
    rules change)."""

    def __init__(self, *, engine: Engine, dimension: int) -> None:
        self._engine = engine
        self._dimension = dimension
        ensure_state_schema(engine)

    def get(self, keys: Sequence[str], *, screen: str = "") -> dict[str, ChunkSentences]:
        """The stored entries of `keys` (missing keys are left out), each with the verdicts of
        the injection screen whose fingerprint is `screen` when they are stored (read in the
        same query; an entry without them has `screen == ""`)."""
        verdicts = _ScreenRow.__table__.alias("verdicts")
        found: dict[str, ChunkSentences] = {}
        with self._engine.connect() as connection:
            for start in range(0, len(keys), 500):
                rows = connection.execute(
                    select(
                        _SentenceRow.key, _SentenceRow.units, _SentenceRow.vectors, verdicts.c.flags
                    )
                    .outerjoin(
                        verdicts,
                        and_(verdicts.c.key == _SentenceRow.key, verdicts.c.screen == screen),
                    )
                    .where(_SentenceRow.key.in_(list(keys[start : start + 500])))
                )
                for key, units, blob, flags in rows:
                    entry = self._decode(units, blob)
                    if flags is not None and len(flags) == len(entry.sentences):
                        instructions = tuple(flag == "1" for flag in flags)
                        entry = dataclasses.replace(entry, instructions=instructions, screen=screen)
                    found[key] = entry
        return found

    def put(self, entries: dict[str, ChunkSentences]) -> None:
        if not entries:
            return
        rows = [{"key": key, **self._encode(entry)} for key, entry in entries.items()]
        insert = dialect_insert(self._engine, _SentenceRow)
        with self._engine.begin() as connection:
            statement = insert.on_conflict_do_nothing(index_elements=["key"])
            connection.execute(statement, rows)

    def put_screens(self, verdicts: dict[str, tuple[bool, ...]], screen: str) -> None:
        if not verdicts:
            return
        rows = [
            {"key": key, "screen": screen, "flags": "".join("1" if f else "0" for f in flags)}
            for key, flags in verdicts.items()
        ]
        with self._engine.begin() as connection:
            statement = dialect_insert(self._engine, _ScreenRow)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"screen": statement.excluded.screen, "flags": statement.excluded.flags},
                ),
                rows,
            )

    def __len__(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(_SentenceRow)) or 0)

    def units(self, keys: Sequence[str]) -> dict[str, tuple[EvidenceSentence, ...]]:
        """The stored sentence units of `keys` without their vectors (missing keys left out)."""
        found: dict[str, tuple[EvidenceSentence, ...]] = {}
        with self._engine.connect() as connection:
            for start in range(0, len(keys), 500):
                rows = connection.execute(
                    select(_SentenceRow.key, _SentenceRow.units).where(
                        _SentenceRow.key.in_(list(keys[start : start + 500]))
                    )
                )
                found.update((key, _units(payload)) for key, payload in rows)
        return found

    def sweep(self, live: LiveKeys, *, dry_run: bool = False) -> dict[str, SweepCount]:
        """Delete the vectors and screen verdicts of every key not in `live`."""
        return {
            "sentence_vectors": sweep(self._engine, _SentenceRow.key, live, dry_run=dry_run),
            "sentence_screens": sweep(self._engine, _ScreenRow.key, live, dry_run=dry_run),
        }

    def _encode(self, entry: ChunkSentences) -> dict[str, object]:
        units = [[u.start, u.end, u.display, u.context, u.kind, u.block] for u in entry.sentences]
        matrix = np.vstack([entry.vectors, entry.context_vectors]).astype(np.float16)
        return {"units": json.dumps(units, ensure_ascii=False), "vectors": matrix.tobytes()}

    def _decode(self, units_json: str, blob: bytes) -> ChunkSentences:
        units = _units(units_json)
        if not units:
            empty = np.zeros((0, self._dimension), dtype=np.float32)
            return ChunkSentences((), empty, empty)
        flat = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
        matrix = flat.reshape(2 * len(units), self._dimension)
        return ChunkSentences(units, matrix[: len(units)], matrix[len(units) :])


def _units(units_json: str) -> tuple[EvidenceSentence, ...]:
    return tuple(
        EvidenceSentence(int(a), int(b), str(d), str(c), str(k), int(blk))
        for a, b, d, c, k, blk in json.loads(units_json)
    )


class SentenceVectors:
    """Sentence units and vectors per chunk: read from the store, the rest embedded in one
    batched call (and written back, so each chunk is embedded once). Each unit is also judged
    once by the injection `screen` (the regular expressions cost ~0.2 ms per sentence, too
    much to run on every request's evidence), and the verdicts are stored beside the vectors."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        store: SentenceVectorStore | None = None,
        screen: InjectionScreen | None = None,
    ) -> None:
        self._embedder = embedder
        self._store = store
        self._screen = screen or InjectionScreen()

    @property
    def screen(self) -> InjectionScreen:
        return self._screen

    @property
    def persistent(self) -> bool:
        return self._store is not None

    @property
    def store(self) -> SentenceVectorStore | None:
        return self._store

    def for_chunks(self, chunks: Sequence[ChunkRecord]) -> tuple[list[ChunkSentences], int]:
        """One entry per chunk, in order, and how many chunks had to be embedded now."""
        model = self._embedder.model_id
        keys = [sentence_key(model, chunk) for chunk in chunks]
        screen = self._screen.fingerprint
        store = self._store
        found = store.get(sorted(set(keys)), screen=screen) if store is not None else {}
        missing = {key: chunk for key, chunk in zip(keys, chunks, strict=True) if key not in found}
        if missing:
            fresh = self.embed(list(missing.values()))
            new = dict(zip(missing, fresh, strict=True))
            if store is not None:
                store.put(new)
            found.update(new)
        self._judge(found)
        return [found[key] for key in keys], len(missing)

    def _judge(self, entries: dict[str, ChunkSentences]) -> None:
        """Attach the screen's verdicts to the entries read without them (in place), judged
        now and stored, so each chunk's units are screened once."""
        screen = self._screen.fingerprint
        judged: dict[str, tuple[bool, ...]] = {}
        for key, entry in entries.items():
            if entry.screen == screen:
                continue
            flags = tuple(self._screen.assess(u.display).suspected for u in entry.sentences)
            judged[key] = flags
            entries[key] = dataclasses.replace(entry, instructions=flags, screen=screen)
        if self._store is not None:
            self._store.put_screens(judged, screen)

    def embed(self, chunks: Sequence[ChunkRecord]) -> list[ChunkSentences]:
        """Cut and embed `chunks` (both framings) in one call to the model."""
        split = [sentence_units(c.text, (c.title, *c.heading_path)) for c in chunks]
        plain = [u.display for units in split for u in units]
        framed = [
            f"{_frame(chunk, u)}: {u.display}"
            for chunk, units in zip(chunks, split, strict=True)
            for u in units
        ]
        # Chunks overlap by a sentence or two, and a page repeats its boilerplate: each
        # distinct text is embedded once.
        texts = plain + framed
        distinct = list(dict.fromkeys(texts))
        where = {t: i for i, t in enumerate(distinct)}
        unique = (
            self._embedder.embed_documents(distinct)
            if distinct
            else np.zeros((0, self._embedder.dimension), dtype=np.float32)
        )
        vectors = unique[[where[t] for t in texts]] if texts else unique
        entries: list[ChunkSentences] = []
        offset, count = 0, len(plain)
        for units in split:
            stop = offset + len(units)
            entries.append(
                ChunkSentences(
                    tuple(units), vectors[offset:stop], vectors[count + offset : count + stop]
                )
            )
            offset = stop
        return entries
