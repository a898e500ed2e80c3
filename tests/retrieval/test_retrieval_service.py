"""RetrievalService on a small index of its own: access changes apply on the very next query."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from llama_index.core.schema import QueryBundle

from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.settings import PolicySettings
from retrieval.embedding.embedder import SentenceTransformerEmbedder
from retrieval.llama_retriever import PermissionedRetriever
from retrieval.records import SearchFilters
from retrieval.service import RetrievalRequest, RetrievalService
from tests.fixtures.counting import CountingEmbedder
from tests.fixtures.sync_sources import Wired, wire, write_source_tree, write_sources_file

POLICY = """\
p, public, source:*, read, allow
g, group:hr, group:all-staff
g, user:erin, group:all-staff
g, user:hana, group:hr
"""


@dataclass
class World:
    wired: Wired
    policy_file: Path
    policy: CasbinPolicyEngine
    service: RetrievalService
    embedder: CountingEmbedder
    kb: Path


@pytest.fixture
def world(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[World]:
    kb = tmp_path / "kb"
    write_source_tree(kb)
    wired = wire(tmp_path, write_sources_file(tmp_path / "sources.yaml", kb / "it"), embedder)
    wired.service.sync("it-kb")
    policy_file = tmp_path / "policy.csv"
    policy_file.write_text(POLICY, encoding="utf-8")
    policy = CasbinPolicyEngine(settings=PolicySettings(policy_path=policy_file))
    counting = CountingEmbedder(embedder)
    service = RetrievalService(store=wired.store, embedder=counting, policy=policy)  # type: ignore[arg-type]
    yield World(wired, policy_file, policy, service, counting, kb)
    policy.close()
    wired.close()


def _docs(world: World, user: str, query: str, **kwargs: object) -> list[str]:
    principal = world.policy.principal_for(user)
    result = world.service.retrieve(RetrievalRequest(query=query, principal=principal, **kwargs))  # type: ignore[arg-type]
    return [c.hit.chunk.document_id for c in result.chunks]


def test_each_user_retrieves_only_what_they_may_read(world: World) -> None:
    assert "it-kb:salaries.md" in _docs(world, "hana", "salary bands review")
    assert "it-kb:salaries.md" not in _docs(world, "erin", "salary bands review")
    assert _docs(world, "stranger", "salary bands review") == []  # holds only `public`


def test_an_access_change_from_ingestion_applies_to_the_next_query(world: World) -> None:
    assert "it-kb:printers.txt" in _docs(world, "erin", "printer toner")
    (world.kb / "it" / "printers.txt.acl.yaml").write_text('read: ["group:hr"]\n', "utf-8")
    world.wired.service.sync("it-kb")

    assert "it-kb:printers.txt" not in _docs(world, "erin", "printer toner")
    assert "it-kb:printers.txt" in _docs(world, "hana", "printer toner")


def test_a_policy_edit_applies_to_the_next_query(world: World) -> None:
    assert "it-kb:salaries.md" not in _docs(world, "erin", "salary bands review")
    world.policy_file.write_text(POLICY + "g, user:erin, group:hr\n", encoding="utf-8")
    os.utime(world.policy_file, (2_000_000_000, 2_000_000_000))

    assert "it-kb:salaries.md" in _docs(world, "erin", "salary bands review")


def test_a_chunk_failing_the_recheck_is_dropped_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    principal = world.policy.principal_for("hana")
    stale = world.policy.access_filter(principal)
    world.policy_file.write_text(POLICY + "g, user:zed, group:hr\n", encoding="utf-8")
    os.utime(world.policy_file, (2_000_000_000, 2_000_000_000))
    world.policy.reload()

    with caplog.at_level(logging.ERROR, logger="retrieval.service"):
        result = world.service.retrieve_with(
            RetrievalRequest(query="salary bands review", principal=principal), stale
        )

    assert result.chunks == []
    assert result.dropped_by_recheck > 0
    assert "policy inconsistency" in caplog.text


def test_query_embeddings_are_cached(world: World) -> None:
    _docs(world, "erin", "How do I connect to the VPN?")
    _docs(world, "hana", "How  do I connect to the VPN?")  # same query, other spacing
    assert world.embedder.queries == 1
    _docs(world, "erin", "sparse only", mode="sparse")
    assert world.embedder.queries == 1  # sparse search needs no embedding


def test_filters_narrow_by_type_and_source(world: World) -> None:
    only_html = _docs(
        world, "erin", "network staff account", filters=SearchFilters(doc_types=frozenset({"html"}))
    )
    assert only_html and set(only_html) == {"it-kb:wifi.html"}
    assert _docs(world, "erin", "VPN", filters=SearchFilters(source_ids=frozenset({"hr-kb"}))) == []


def test_an_empty_query_returns_nothing(world: World) -> None:
    assert _docs(world, "erin", "   ") == []


def test_the_llama_index_retriever_is_bound_to_its_principal(world: World) -> None:
    retriever = PermissionedRetriever(
        service=world.service, principal=world.policy.principal_for("erin")
    )
    nodes = retriever.retrieve(QueryBundle("salary bands review code"))

    assert all(n.node.metadata["document_id"] != "it-kb:salaries.md" for n in nodes)
    assert retriever.last_policy_version == world.policy.version
    assert all(n.node.get_content() for n in nodes)
