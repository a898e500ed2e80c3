"""Incremental sync against the real embedder, Qdrant Edge on disk and SQLite state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from policies.access.filters import AccessFilter
from retrieval.embedding.embedder import SentenceTransformerEmbedder
from tests.fixtures.sync_sources import Wired, wire, write_source_tree, write_sources_file

STAFF = AccessFilter(holds=frozenset({"public", "group:all-staff", "user:erin"}))
HR = AccessFilter(holds=frozenset({"public", "group:all-staff", "group:hr", "user:hana"}))


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    write_source_tree(root)
    return root


@pytest.fixture
def wired(tmp_path: Path, kb: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Wired]:
    w = wire(tmp_path, write_sources_file(tmp_path / "sources.yaml", kb / "it"), embedder)
    yield w
    w.close()


def _doc_ids(w: Wired, access: AccessFilter, query: str) -> set[str]:
    hits = w.store.search(
        query_text=query,
        query_vector=None,
        access=access,
        limit=50,
        mode="sparse",
    )
    return {h.chunk.document_id for h in hits}


def test_first_sync_indexes_every_document_with_its_access(wired: Wired) -> None:
    report = wired.service.sync("it-kb")

    assert (report.status, report.added, report.failed, report.quarantined) == (
        "succeeded",
        4,
        0,
        0,
    )
    assert report.chunks_embedded == report.chunks_written > 0
    assert wired.store.count(source_id="it-kb") == report.chunks_written
    assert "it-kb:salaries.md" not in _doc_ids(wired, STAFF, "salary bands review code")
    assert "it-kb:salaries.md" in _doc_ids(wired, HR, "salary bands review code")


def test_unchanged_rerun_embeds_nothing_and_writes_nothing(wired: Wired) -> None:
    first = wired.service.sync("it-kb")
    second = wired.service.sync("it-kb")

    assert second.unchanged == 4
    assert (second.added, second.updated, second.chunks_embedded, second.chunks_written) == (
        0,
        0,
        0,
        0,
    )
    assert wired.store.count(source_id="it-kb") == first.chunks_written


def test_edit_reembeds_only_changed_chunks_and_drops_the_old_version(
    wired: Wired, kb: Path
) -> None:
    wired.service.sync("it-kb")
    before = wired.store.document_versions("it-kb")["it-kb:vpn.md"]
    vpn = kb / "it" / "vpn.md"
    vpn.write_text(vpn.read_text().replace("Error 809", "Error 812"), encoding="utf-8")

    report = wired.service.sync("it-kb")

    after = wired.store.document_versions("it-kb")["it-kb:vpn.md"]
    assert report.updated == 1 and report.unchanged == 3
    doc_chunks = wired.state.document("it-kb:vpn.md")
    assert doc_chunks is not None
    assert 1 <= report.chunks_embedded < doc_chunks.chunk_count + 1
    assert len(after) == 1 and after != before
    assert "it-kb:vpn.md" in _doc_ids(wired, STAFF, "Error 812")
    assert "it-kb:vpn.md" not in _doc_ids(wired, STAFF, "809")


def test_access_only_change_updates_in_place_without_embedding(wired: Wired, kb: Path) -> None:
    wired.service.sync("it-kb")
    (kb / "it" / "printers.txt.acl.yaml").write_text('read: ["group:hr"]\n', encoding="utf-8")

    report = wired.service.sync("it-kb")

    assert (report.acl_changed, report.chunks_embedded, report.updated) == (1, 0, 0)
    assert "it-kb:printers.txt" not in _doc_ids(wired, STAFF, "printers toner FOLLOW-ME")
    assert "it-kb:printers.txt" in _doc_ids(wired, HR, "printers toner FOLLOW-ME")


def test_deleted_document_disappears(wired: Wired, kb: Path) -> None:
    wired.service.sync("it-kb")
    (kb / "it" / "wifi.html").unlink()

    report = wired.service.sync("it-kb")

    assert report.deleted == 1
    assert wired.store.count(document_id="it-kb:wifi.html") == 0
    assert wired.state.document("it-kb:wifi.html") is None


def test_wipe_guard_deletes_nothing_when_most_documents_vanish(wired: Wired, kb: Path) -> None:
    first = wired.service.sync("it-kb")
    for name in ("wifi.html", "printers.txt", "salaries.md"):
        (kb / "it" / name).unlink()

    guarded = wired.service.sync("it-kb")

    assert guarded.deleted == 0 and guarded.status == "partial"
    assert (
        guarded.deletions_skipped is not None and "--allow-mass-delete" in guarded.deletions_skipped
    )
    assert wired.store.count(source_id="it-kb") == first.chunks_written

    forced = wired.service.sync("it-kb", allow_mass_delete=True)
    assert forced.deleted == 3
    assert set(wired.store.document_versions("it-kb")) == {"it-kb:vpn.md"}


def test_missing_root_is_an_error_and_deletes_nothing(wired: Wired, kb: Path) -> None:
    first = wired.service.sync("it-kb")
    (kb / "it").rename(kb / "it-moved")

    report = wired.service.sync("it-kb")

    assert report.status == "failed" and report.error is not None
    assert report.deleted == 0
    assert wired.store.count(source_id="it-kb") == first.chunks_written


def test_bad_files_are_reported_and_the_rest_is_indexed(wired: Wired, kb: Path) -> None:
    it = kb / "it"
    (it / "corrupt.pdf").write_bytes(b"%PDF-1.7\n this is not really a pdf")
    (it / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (it / "latin1.md").write_bytes("Caf\xe9 opening hours".encode("latin-1"))
    (it / "empty.md").write_text("", encoding="utf-8")
    (it / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    outside = kb / "outside-secret.md"
    outside.write_text("# Secret\nThe launch code is 0000.", encoding="utf-8")
    (it / "escape.md").symlink_to(outside)

    report = wired.service.sync("it-kb")

    reasons = {f.key: f.reason for f in report.failures}
    assert set(reasons) == {
        "corrupt.pdf",
        "binary.txt",
        "latin1.md",
        "empty.md",
        "broken.docx",
        "escape.md",
    }
    assert all(reason.strip() for reason in reasons.values())
    assert report.added == 4 and report.status == "partial"
    assert set(wired.store.document_versions("it-kb")) == {
        "it-kb:vpn.md",
        "it-kb:printers.txt",
        "it-kb:wifi.html",
        "it-kb:salaries.md",
    }


def test_a_document_that_turns_corrupt_keeps_its_indexed_version(wired: Wired, kb: Path) -> None:
    wired.service.sync("it-kb")
    (kb / "it" / "printers.txt").write_bytes(b"\x00\x01\x02" * 100)

    report = wired.service.sync("it-kb")

    assert report.failed == 1 and report.deleted == 0
    assert "it-kb:printers.txt" in _doc_ids(wired, STAFF, "printers toner FOLLOW-ME")


def test_unresolvable_access_is_quarantined_and_leaves_the_index(wired: Wired, kb: Path) -> None:
    wired.service.sync("it-kb")
    (kb / "it" / "vpn.md.acl.yaml").write_text("read: [not-a-principal]\n", encoding="utf-8")

    report = wired.service.sync("it-kb")

    assert report.quarantined == 1
    assert [f.key for f in report.failures] == ["vpn.md"]
    assert wired.store.count(document_id="it-kb:vpn.md") == 0


def _everyone(w: Wired, query: str) -> set[str]:
    return _doc_ids(w, STAFF, query) | _doc_ids(w, HR, query)


BROKEN_FRONT_MATTER = [
    ("a YAML error", "---\nread: [group:all-staff\n---\n# VPN setup\nGlobalConnect client.\n"),
    ("a misspelt key", "---\nRead: [group:hr]\n---\n# VPN setup\nGlobalConnect client.\n"),
    ("a list, not a mapping", "---\n- read\n---\n# VPN setup\nGlobalConnect client.\n"),
    ("never closed", "---\nread: [group:hr]\n# VPN setup\nGlobalConnect client.\n"),
]


@pytest.mark.parametrize(
    "text", [c[1] for c in BROKEN_FRONT_MATTER], ids=[c[0] for c in BROKEN_FRONT_MATTER]
)
def test_broken_front_matter_quarantines_the_indexed_document(
    wired: Wired, kb: Path, text: str
) -> None:
    wired.service.sync("it-kb")
    assert "it-kb:vpn.md" in _everyone(wired, "GlobalConnect client")
    (kb / "it" / "vpn.md").write_text(text, encoding="utf-8")

    report = wired.service.sync("it-kb")

    assert (report.quarantined, [f.key for f in report.failures]) == (1, ["vpn.md"])
    assert report.failures[0].kind == "quarantined"
    assert wired.store.count(document_id="it-kb:vpn.md") == 0
    assert "it-kb:vpn.md" not in _everyone(wired, "GlobalConnect client")


def test_markdown_that_no_longer_decodes_is_quarantined(wired: Wired, kb: Path) -> None:
    wired.service.sync("it-kb")
    (kb / "it" / "salaries.md").write_bytes(
        "---\nread: [group:all-staff]\n---\nSalary caf\xe9 SALARYBAND-77".encode("latin-1")
    )

    report = wired.service.sync("it-kb")

    assert report.quarantined == 1
    assert wired.store.count(document_id="it-kb:salaries.md") == 0


def test_an_unparsable_document_keeps_its_version_under_the_new_access(
    wired: Wired, kb: Path
) -> None:
    wired.service.sync("it-kb")
    (kb / "it" / "printers.txt").write_bytes(b"\x00\x01\x02" * 100)
    (kb / "it" / "printers.txt.acl.yaml").write_text("read: [group:hr]\n", encoding="utf-8")

    report = wired.service.sync("it-kb")

    assert report.failed == 1
    assert "it-kb:printers.txt" not in _doc_ids(wired, STAFF, "printers toner FOLLOW-ME")
    assert "it-kb:printers.txt" in _doc_ids(wired, HR, "printers toner FOLLOW-ME")


def test_runs_are_recorded_as_jobs(wired: Wired) -> None:
    result = wired.runner.run("it-kb", trigger="cli")

    record = wired.runner.jobs.get(result.job_id)
    assert record is not None
    assert record.status == "succeeded" and record.report is not None
    assert record.report["added"] == 4
