"""Placeholders on one review page, over HTTP: the same value has the same placeholder in the
recorded answer and in every citation's context, and two values never share one (issue 18)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from agent.review.service import ReviewService, ReviewSettings
from retrieval.records import ChunkRecord
from retrieval.store import VectorStore
from tests.fixtures.audit_app import AuditKeys, audit_app, make_authenticator
from tests.fixtures.audit_reviews import AuditWorld, build_world, cited_answer
from tests.fixtures.audit_reviews import readable_chunks as readable
from tests.fixtures.kb_index import KbIndex

# Chunk texts with people in them; `cited_answer` quotes each chunk's second sentence.
LOCKERS = (
    "Dana Whitfield runs the locker office on the second floor of the north building. "
    "Ask Alice Johnson or Robert Miller at the front desk for a spare locker key. "
    "Keys are returned on Fridays."
)
BADGES = (
    "Lost badges are replaced within one working day by the security team. "
    "Carol White and Alice Johnson sign every replacement badge at the front desk. "
    "Robert Miller keeps the spare badges in the cabinet."
)
PLACEHOLDER = r"<(PERSON_\d+)>"


class _WithChunks:
    """The shared index plus a few chunks of our own (found by id, as the page looks them up)."""

    def __init__(self, store: VectorStore, chunks: Sequence[ChunkRecord]) -> None:
        self._store = store
        self._chunks = {c.chunk_id: c for c in chunks}

    def retrieve_chunks(self, chunk_ids: Sequence[str]) -> list[ChunkRecord]:
        ours = [self._chunks[i] for i in chunk_ids if i in self._chunks]
        return ours + self._store.retrieve_chunks([i for i in chunk_ids if i not in self._chunks])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def world(tmp_path: Path, kb_index: KbIndex) -> Iterator[AuditWorld]:
    built = build_world(tmp_path, kb_index)
    yield built
    built.close()


def _chunk(template: ChunkRecord, text: str) -> ChunkRecord:
    return replace(
        template,
        chunk_id=str(uuid.uuid4()),
        document_id=f"kb:documents/{uuid.uuid4().hex}.md",
        start=0,
        end=len(text),
        text=text,
    )


def _page(world: AuditWorld) -> tuple[TestClient, AuditKeys, str]:
    template = readable(world.kb, "oscar", "VPN", 1)[0]
    chunks = [_chunk(template, LOCKERS), _chunk(template, BADGES)]
    answer = cited_answer(chunks, question="Who hands out spare keys and badges?")
    world.audit.record(answer, world.principal("bob"))
    index = cast(VectorStore, _WithChunks(world.kb.store, chunks))
    service = ReviewService(
        audit=world.audit,
        reviews=world.reviews,
        index=lambda: index,
        policy=world.kb.policy,
        guard=world.guard,
        settings=ReviewSettings(sample_rate=0.0, double_review_rate=0.0),
        clock=world.clock,
    )
    authenticator, keys = make_authenticator(world.kb.policy)
    return TestClient(audit_app(service, authenticator)), keys, answer.answer_id


def _people(text: str, pattern: str) -> tuple[str, ...]:
    """The placeholders `pattern` (fixed words around PLACEHOLDER groups) finds in `text`;
    every occurrence on the page must agree."""
    found = {m.groups() for m in re.finditer(pattern, text)}
    assert len(found) == 1, (pattern, found)
    return found.pop()


def _check(text: str, *, occurrences: int) -> None:
    ask = rf"Ask {PLACEHOLDER} or {PLACEHOLDER} at the front desk"
    sign = rf"{PLACEHOLDER} and {PLACEHOLDER} sign every"
    assert len(re.findall(ask, text)) == occurrences  # answer and citation [1] (and quotes)
    alice, robert = _people(text, ask)
    carol, alice_again = _people(text, sign)
    (dana,) = _people(text, rf"{PLACEHOLDER} runs the locker office")
    (robert_again,) = _people(text, rf"{PLACEHOLDER} keeps the spare badges")
    assert alice_again == alice and robert_again == robert  # one value, one placeholder
    assert len({alice, robert, carol, dana}) == 4  # two values never share one
    for name in ("Alice", "Robert", "Carol", "Dana"):
        assert name not in text


def test_one_review_page_gives_each_person_one_placeholder(world: AuditWorld) -> None:
    client, keys, answer_id = _page(world)
    with client:
        page = client.get(f"/audit/answers/{answer_id}", headers=keys.auth(keys.oscar))
    assert page.status_code == 200, page.text
    html = page.text.replace("&lt;", "<").replace("&gt;", ">")
    _check(html, occurrences=2)


def test_one_audit_api_response_gives_each_person_one_placeholder(world: AuditWorld) -> None:
    client, keys, answer_id = _page(world)
    with client:
        response = client.get(f"/v1/audit/answers/{answer_id}", headers=keys.auth(keys.oscar))
        again = client.get(f"/v1/audit/answers/{answer_id}", headers=keys.auth(keys.oscar))
    assert response.status_code == 200, response.text
    body = response.json()
    shown = [body["answer"]] + [f"{c['before']}{c['quote']}{c['after']}" for c in body["citations"]]
    _check("\n".join(shown), occurrences=2)
    assert again.json()["citations"] == body["citations"]  # a second view (cached) agrees
