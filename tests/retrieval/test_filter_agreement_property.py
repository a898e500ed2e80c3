"""Property: the filter Qdrant applies inside the search and Casbin's decision always agree.

A random access world (nested groups, users, a source rule, 400 chunks with random read/deny
lists) is indexed once in Qdrant Edge; Hypothesis then draws identities. For each one, the set
of chunks the store returns under the compiled filter must equal the set the policy engine
admits chunk by chunk — 400 decisions per example, > 10,000 across the run — and a sample of
those decisions is checked against Casbin's own `enforce()` as well.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.settings import PolicySettings
from retrieval.edge_store import EdgeStore
from retrieval.records import ChunkRecord, chunk_id_for
from retrieval.store_factory import EdgeStoreSettings, open_store

GROUPS = [f"g{i}" for i in range(24)]
USERS = [f"u{i}" for i in range(16)]
SOURCES = ["s0", "s1", "s2"]
CHUNKS = 400
EXAMPLES = 40  # × 400 chunks = 16,000 filter-vs-policy decisions


@dataclass
class World:
    store: EdgeStore
    policy: CasbinPolicyEngine
    chunks: list[ChunkRecord]


def _policy_lines(rng: random.Random) -> list[str]:
    lines = ["p, public, source:*, read, allow", "p, group:g3, source:s1, read, deny"]
    for i, group in enumerate(GROUPS[:-1]):  # edges point to later groups only: no cycles
        for parent in rng.sample(GROUPS[i + 1 :], k=min(2, len(GROUPS) - i - 1)):
            if rng.random() < 0.35:
                lines.append(f"g, group:{group}, group:{parent}")
    for user in USERS:
        for group in rng.sample(GROUPS, k=rng.randint(0, 3)):
            lines.append(f"g, user:{user}, group:{group}")
    return lines


def _refs(rng: random.Random, k: int) -> tuple[str, ...]:
    pool = [f"group:{g}" for g in GROUPS] + [f"user:{u}" for u in USERS] + ["public"]
    return tuple(rng.sample(pool, k=k))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    rng = random.Random(20261121)
    tmp = tmp_path_factory.mktemp("agreement")
    policy_file = tmp / "policy.csv"
    policy_file.write_text("\n".join(_policy_lines(rng)) + "\n", encoding="utf-8")
    policy = CasbinPolicyEngine(settings=PolicySettings(policy_path=policy_file))
    chunks = []
    for i in range(CHUNKS):
        doc = f"doc-{i}"
        chunks.append(
            ChunkRecord(
                chunk_id=chunk_id_for(doc, 0, f"h{i}"),
                document_id=doc,
                source_id=rng.choice(SOURCES),
                title=f"Document {i}",
                heading_path=(),
                uri=f"file:///kb/{doc}.md",
                start=0,
                end=10,
                text=f"chunk number {i}",
                content_hash=f"h{i}",
                document_version="v1",
                read=_refs(rng, rng.randint(1, 3)),
                deny=_refs(rng, rng.choice([0, 0, 1, 2])),
                doc_type="md",
                ordinal=0,
            )
        )
    vectors = np.random.default_rng(7).normal(size=(CHUNKS, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = open_store(EdgeStoreSettings(path=tmp / "index"), dimension=384)
    assert isinstance(store, EdgeStore)
    store.upsert(chunks, vectors.tolist())
    store.flush()  # not optimized: unindexed segments are searched exactly
    yield World(store, policy, chunks)
    store.close()
    policy.close()


identities = st.tuples(
    st.sampled_from([*USERS, None, "ghost"]),
    st.lists(st.sampled_from([*GROUPS, "undefined-group"]), max_size=3, unique=True),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(identity=identities, seed=st.integers(0, 2**16))
def test_store_filter_and_policy_agree_on_every_chunk(
    world: World, identity: tuple[str | None, list[str]], seed: int
) -> None:
    user, idp_groups = identity
    principal = world.policy.principal_for(user, idp_groups)
    access = world.policy.access_filter(principal)
    query = np.random.default_rng(seed).normal(size=384).astype(np.float32)

    hits = world.store.search(
        query_text="chunk", query_vector=query.tolist(), access=access, limit=CHUNKS, mode="dense"
    )

    returned = {h.chunk.chunk_id for h in hits}
    admitted = {
        c.chunk_id
        for c in world.chunks
        if world.policy.can_read(access, source_id=c.source_id, read=c.read, deny=c.deny)
    }
    assert returned == admitted
    for chunk in random.Random(seed).sample(world.chunks, k=10):
        reference = world.policy.reference_can_read(
            user, idp_groups, source_id=chunk.source_id, read=chunk.read, deny=chunk.deny
        )
        assert (chunk.chunk_id in returned) == reference


def test_the_random_world_is_not_trivial(world: World) -> None:
    """Guard against a vacuous property: identities see different, partial slices."""
    seen = []
    for user in USERS:
        access = world.policy.access_filter(world.policy.principal_for(user))
        seen.append(
            sum(
                world.policy.can_read(access, source_id=c.source_id, read=c.read, deny=c.deny)
                for c in world.chunks
            )
        )
    assert 0 < min(seen) < max(seen) < CHUNKS
    assert len(set(seen)) > len(USERS) // 2
