"""Permission-filtered retrieval over the sample knowledge base, as each persona."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from policies.access.principal import Principal
from retrieval.service import RetrievalRequest
from tests.fixtures.kb_index import KB, KbIndex


def _principal(kb_index: KbIndex, user: str | None) -> Principal:
    return kb_index.policy.principal_for(user)


def test_every_source_of_the_sample_kb_ingests_cleanly(kb_index: KbIndex) -> None:
    for source_id, report in kb_index.reports.items():
        assert report.status == "succeeded", (source_id, report.failures)
    assert sum(r.added for r in kb_index.reports.values()) >= 44


def test_an_all_staff_question_finds_its_document(kb_index: KbIndex) -> None:
    result = kb_index.retrieval.retrieve(
        RetrievalRequest(
            query="How do I set up the VPN client?", principal=_principal(kb_index, "bob")
        )
    )
    assert result.chunks, "nothing retrieved"
    assert result.chunks[0].hit.chunk.document_id.startswith("it-kb:")
    assert result.policy_version == kb_index.policy.version
    assert all(len(c.allowed_by) > 0 for c in result.chunks)


def test_no_document_returns_more_than_the_per_document_limit(kb_index: KbIndex) -> None:
    result = kb_index.retrieval.retrieve(
        RetrievalRequest(query="VPN", principal=_principal(kb_index, "bob"), top_k=10)
    )
    per_doc: dict[str, int] = {}
    for c in result.chunks:
        per_doc[c.hit.chunk.document_id] = per_doc.get(c.hit.chunk.document_id, 0) + 1
    assert max(per_doc.values()) <= 2


CANARIES = yaml.safe_load((KB / "canaries.yaml").read_text(encoding="utf-8"))["canaries"]
PERSONAS = sorted(yaml.safe_load((KB / "identities.yaml").read_text(encoding="utf-8"))["users"])


@pytest.mark.parametrize("canary", CANARIES, ids=lambda c: c["string"])
def test_canaries_are_found_only_by_their_readers(
    kb_index: KbIndex, canary: dict[str, object]
) -> None:
    text = str(canary["string"])
    for user in [*PERSONAS, None, "stranger"]:
        principal = _principal(kb_index, user)
        access = kb_index.policy.access_filter(principal)
        doc_id = _document_id(kb_index, str(canary["document"]))
        chunks = kb_index.store.search(
            query_text=text,
            query_vector=None,
            access=access,
            limit=100,
            mode="sparse",
            filters=None,
        )
        leaked = [c for c in chunks if text in c.chunk.text]
        state = kb_index.state.document(doc_id)
        assert state is not None
        may_read = kb_index.policy.can_read(
            principal, source_id=state.source_id, read=state.read, deny=state.deny
        )
        assert bool(leaked) == may_read, (user, text)


def _document_id(kb_index: KbIndex, rel: str) -> str:
    top, _, rest = rel.partition("/")
    source = {Path(str(s.root)).name: s.id for s in kb_index.registry}[top]
    return f"{source}:{rest}"
