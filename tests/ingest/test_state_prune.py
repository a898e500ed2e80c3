"""`StatePruner`: rows of chunks that left the index are removed, rows of live chunks never are."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Engine, String, insert, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from infra.sql_sweep import LiveKeys, sweep
from ingest.chunking import Chunker
from ingest.jobs import SourceBusyError
from ingest.report import SourceReport
from ingest.state import create_state_engine
from ingest.state_prune import StatePruner
from policies.pii.findings_store import FindingsStore
from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings
from retrieval.embedding.embedder import SentenceTransformerEmbedder
from retrieval.records import ChunkRecord
from retrieval.sentence_vectors import (
    SentenceVectors,
    SentenceVectorStore,
    sentence_key,
    shown_texts,
)
from retrieval.store import VectorStore
from tests.fixtures.sync_sources import Wired, wire, write_source_tree, write_sources_file

TABLES = ("embedding_cache", "sentence_vectors", "sentence_screens", "pii_findings")
SQL_TABLES = {
    "embedding_cache": "pd_embedding_cache",
    "sentence_vectors": "sentence_vectors",
    "sentence_screens": "sentence_screens",
    "pii_findings": "pii_findings",
}


@dataclass
class Setup:
    wired: Wired
    engine: Engine
    sentences: SentenceVectorStore
    findings: PresidioRedactor
    pruner: StatePruner
    kb: Path

    def rows(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            return {
                name: int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
                for name, table in SQL_TABLES.items()
            }

    def keys(self, table: str) -> set[str]:
        with self.engine.connect() as connection:
            return {str(k) for k in connection.scalars(text(f"SELECT key FROM {table}"))}

    def sync(self) -> SourceReport:
        return self.wired.runner.run("it-kb", trigger="cli").report


HOLIDAYS = """\
Public holidays

The office is closed on the following company holidays.

  Date               Day         Holiday
  -----------------  ----------  ------------------
  1 January 2026     Thursday    New Year's Day
  25 May 2026        Monday      Memorial Day
  19 June 2026       Friday      Juneteenth
"""  # a fixed-width table: its rows' quotes start with blanks, which findings are stored without


@pytest.fixture
def setup(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Setup]:
    kb = tmp_path / "kb"
    write_source_tree(kb)
    (kb / "it" / "holidays.txt").write_text(HOLIDAYS, encoding="utf-8")
    sources = write_sources_file(tmp_path / "sources.yaml", kb / "it")
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    sentence_store = SentenceVectorStore(engine=engine, dimension=embedder.dimension)
    redactor = PresidioRedactor(
        settings=RedactionSettings(engine="patterns"), findings_engine=engine
    )
    wired = wire(
        tmp_path,
        sources,
        embedder,
        sentences=SentenceVectors(embedder=embedder, store=sentence_store),
        pii_findings=redactor.precompute,
    )
    pruner = StatePruner(
        store=wired.store,
        state=wired.state,
        jobs=wired.runner.jobs,
        source_ids=lambda: [s.id for s in wired.registry],
        chunker=Chunker(tokens=embedder, target_tokens=60),  # as `wire` chunks
        model_id=embedder.model_id,
        sentences=sentence_store,
        findings=redactor,
    )
    yield Setup(wired, engine, sentence_store, redactor, pruner, kb)
    wired.close()
    redactor.close()
    engine.dispose()


def _live_chunks(setup: Setup) -> list[ChunkRecord]:
    return [c for page in setup.wired.store.iter_chunks() for c in page]


def test_right_after_a_sync_nothing_is_removed(setup: Setup) -> None:
    setup.sync()
    before = setup.rows()

    report = setup.pruner.prune()

    assert report.chunks == setup.wired.store.count() > 0
    assert {name: report.tables[name].removed for name in TABLES} == dict.fromkeys(TABLES, 0)
    assert {name: report.tables[name].kept for name in TABLES} == before
    assert setup.rows() == before and min(before.values()) > 0


def test_rows_of_edited_and_deleted_documents_are_removed_and_live_ones_kept(
    setup: Setup, embedder: SentenceTransformerEmbedder
) -> None:
    setup.sync()
    vpn = setup.kb / "it" / "vpn.md"
    vpn.write_text(vpn.read_text().replace("4400", "5500 (ext. 2)"), encoding="utf-8")
    (setup.kb / "it" / "printers.txt").unlink()
    setup.sync()
    grown = setup.rows()

    dry = setup.pruner.prune(dry_run=True)
    assert dry.dry_run and all(dry.tables[name].removed > 0 for name in TABLES)
    assert setup.rows() == grown  # a dry run removes nothing

    report = setup.pruner.prune()

    assert {n: c.removed for n, c in report.tables.items()} == {
        n: c.removed for n, c in dry.tables.items()
    }
    after = setup.rows()
    assert all(after[n] == grown[n] - report.tables[n].removed for n in TABLES)
    # What is left is exactly what the chunks in the index use.
    live = _live_chunks(setup)
    keys = [sentence_key(embedder.model_id, c) for c in live]
    assert setup.keys("sentence_vectors") == set(keys) == setup.keys("sentence_screens")
    units = setup.sentences.units(keys)
    shown = shown_texts(live, [units[k] for k in keys])
    assert setup.keys("pii_findings") == set(setup.findings.stored_keys(shown))
    # The cache still serves every live chunk: a re-sync of the same tree embeds nothing, and
    # a restored document is embedded again (its rows were really removed).
    assert setup.sync().chunks_embedded == 0
    (setup.kb / "it" / "printers.txt").write_text("Printers\n\nToner is on floor 2.\n", "utf-8")
    assert setup.sync().chunks_embedded > 0


def test_a_running_sync_blocks_the_prune_and_nothing_is_removed(setup: Setup) -> None:
    setup.sync()
    (setup.kb / "it" / "printers.txt").unlink()
    setup.sync()
    grown = setup.rows()

    with (
        setup.wired.runner.jobs.run("it-kb", trigger="cli"),
        pytest.raises(SourceBusyError, match="it-kb"),
    ):
        setup.pruner.prune()
    assert setup.rows() == grown

    # The prune released every lease it took: a sync runs after it.
    assert setup.pruner.prune().removed > 0
    assert setup.sync().status == "succeeded"


def test_a_sync_started_during_a_prune_is_refused_naming_the_prune(
    setup: Setup, embedder: SentenceTransformerEmbedder
) -> None:
    setup.sync()
    refused: list[str] = []

    class SyncsWhileMarking:
        """The index, with a sync attempted while the prune reads it."""

        def iter_chunks(self) -> Iterator[list[ChunkRecord]]:
            try:
                setup.sync()
            except SourceBusyError as exc:
                refused.append(str(exc))
            yield from setup.wired.store.iter_chunks()

    pruner = StatePruner(
        store=cast("VectorStore", SyncsWhileMarking()),
        state=setup.wired.state,
        jobs=setup.wired.runner.jobs,
        source_ids=lambda: ["it-kb"],
        chunker=Chunker(tokens=embedder, target_tokens=60),
        model_id=embedder.model_id,
    )

    assert pruner.prune().removed == 0
    assert len(refused) == 1 and "being synced by the state prune on " in refused[0]


def test_findings_stored_under_other_redaction_settings_are_removed(setup: Setup) -> None:
    setup.sync()
    stale = FindingsStore(engine=setup.engine, fingerprint="redaction settings of last year")
    stale.put({stale.key("Call Jane on 555 0100"): ()})

    report = setup.pruner.prune()

    assert report.tables["pii_findings"].removed == 1
    assert stale.get([stale.key("Call Jane on 555 0100")]) == {}


def test_the_last_prune_is_recorded(setup: Setup) -> None:
    setup.sync()
    assert setup.wired.state.get_meta("last_prune") is None
    setup.pruner.prune(dry_run=True)
    assert setup.wired.state.get_meta("last_prune") is None  # a dry run changes nothing
    setup.pruner.prune()
    assert '"removed": 0' in (setup.wired.state.get_meta("last_prune") or "")


# --- the sweep itself, on both databases ---------------------------------------------------------


def test_live_keys_digest_a_key_the_same_whatever_batch_it_comes_in() -> None:
    hexes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(5)]
    odd = ["not hex at all", "abcd ef0123456789 with a space", "0123456789", "0123_56789abcdef0"]
    live = LiveKeys(hexes[:3])
    live.add(odd[:2])
    probe = [*hexes, *odd]
    expected = [True, True, True, False, False, True, True, False, False]

    assert live.contains(probe).tolist() == expected  # a mixed batch
    assert [bool(live.contains([k])[0]) for k in probe] == expected  # one key at a time
    assert live.contains(hexes).tolist() == expected[:5]  # an all-hex batch (the fast path)


def test_live_keys_answers_per_key() -> None:
    live = LiveKeys(["a" * 64, "b" * 64])
    live.add(["c" * 64])
    assert live.contains(["a" * 64, "d" * 64, "c" * 64, "b" * 64]).tolist() == [
        True,
        False,
        True,
        True,
    ]
    assert len(live) == 3
    assert LiveKeys().contains(["a" * 64]).tolist() == [False]


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "sweep_test_rows"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)


def test_sweep_pages_through_the_table_and_keeps_only_live_keys(sql_engine: Engine) -> None:
    _Base.metadata.create_all(sql_engine)
    keys = [f"{i:02d}-key" for i in range(23)]
    with sql_engine.begin() as connection:
        connection.execute(insert(_Row), [{"key": k} for k in keys])
    live = LiveKeys([*keys[::3], "not-stored"])

    def stored() -> list[str]:
        with sql_engine.connect() as connection:
            return sorted(connection.scalars(text("SELECT key FROM sweep_test_rows")))

    dry = sweep(sql_engine, _Row.key, live, dry_run=True, page=4)
    assert (dry.kept, dry.removed) == (8, 15)
    assert stored() == keys

    done = sweep(sql_engine, _Row.key, live, page=4)

    assert (done.kept, done.removed) == (8, 15)
    assert stored() == keys[::3]
    with pytest.raises(ValueError, match="page"):
        sweep(sql_engine, _Row.key, live, page=0)


def test_findings_sweep_on_both_databases(sql_engine: Engine) -> None:
    store = FindingsStore(engine=sql_engine, fingerprint="f")
    texts = [f"segment {i}" for i in range(7)]
    store.put({store.key(t): () for t in texts})

    count = store.sweep(LiveKeys([store.key(texts[0])]))

    assert (count.kept, count.removed) == (1, 6)
    assert list(store.get([store.key(t) for t in texts])) == [store.key(texts[0])]
