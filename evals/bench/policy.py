"""Benchmark: principal expansion and access-filter compilation on a large policy.

A synthetic organisation (nested groups in layers, users in several groups, source allow-lists
and deny rules, API roles) is written as a policy file and loaded by the real engine. Each
request then does what the API does once per request: expand the principal from the identity
(user id + identity-provider groups) and compile it into the access filter. The budget is 1 ms
at p95 for 10,000 policy lines and 1,000 groups.

    python -m evals.bench.policy [--policies 10000] [--groups 1000] [--requests 20000]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from policies.access.casbin_engine import CasbinPolicyEngine
from policies.access.settings import PolicySettings

__all__ = ["BUDGET_P95_MS", "run", "synthetic_policy"]

BUDGET_P95_MS = 1.0
_LEVELS = 6  # depth of group nesting
_SOURCES = 100
_RESTRICTED = 10  # sources readable only by an allow-list of groups


def synthetic_policy(
    n_policies: int, n_groups: int, *, seed: int = 7
) -> tuple[list[str], list[str], list[str]]:
    """Policy lines (exactly `n_policies`), the user ids and the group names they use."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not security
    groups = [f"grp-{i:04d}" for i in range(n_groups)]
    level_of = {g: min(_LEVELS - 1, i * _LEVELS // n_groups) for i, g in enumerate(groups)}
    by_level: list[list[str]] = [[] for _ in range(_LEVELS)]
    for group, level in level_of.items():
        by_level[level].append(group)
    lines: list[str] = []
    for level in range(1, _LEVELS):  # each group inherits one or two groups one level up
        for group in by_level[level]:
            for parent in rng.sample(by_level[level - 1], k=min(2, rng.randint(1, 2))):
                lines.append(f"g, group:{group}, group:{parent}")
    root = by_level[0][0]
    sources = [f"src-{i:03d}" for i in range(_SOURCES)]
    for source in sources[_RESTRICTED:]:
        lines.append(f"p, group:{root}, source:{source}, read, allow")
    for source in sources[:_RESTRICTED]:
        for group in rng.sample(groups, k=3):
            lines.append(f"p, group:{group}, source:{source}, read, allow")
    for _ in range(300):
        group, source = rng.choice(groups), rng.choice(sources)
        lines.append(f"p, group:{group}, source:{source}, read, deny")
    lines += [
        "p, role:admin, api, sync, allow",
        "p, role:admin, api, manage, allow",
        "p, role:auditor, api, audit, allow",
        f"g, group:{groups[1]}, role:admin",
        f"g, group:{groups[2]}, role:auditor",
    ]
    lines = list(dict.fromkeys(lines))
    users: list[str] = []
    while len(lines) < n_policies:
        user = f"user-{len(users):05d}"
        users.append(user)
        for group in rng.sample(groups, k=rng.randint(1, 4)):
            if len(lines) < n_policies:
                lines.append(f"g, user:{user}, group:{group}")
    return lines[:n_policies], users, groups


def _percentiles(samples_ns: Sequence[int], unit: float) -> dict[str, float]:
    ordered = sorted(samples_ns)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / unit, 4)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": at(1.0)}


def run(
    n_policies: int = 10_000, n_groups: int = 1_000, *, requests: int = 20_000, seed: int = 7
) -> dict[str, object]:
    """Measure principal expansion + filter compilation (and the pieces around it)."""
    lines, users, groups = synthetic_policy(n_policies, n_groups, seed=seed)
    rng = random.Random(seed + 1)  # noqa: S311 - reproducible synthetic data
    identities = [
        (
            rng.choice(users),
            [*rng.sample(groups, k=rng.randint(0, 3)), *(["not-in-policy"] * rng.randint(0, 1))],
        )
        for _ in range(requests)
    ]
    chunks = [
        (f"src-{rng.randrange(_SOURCES):03d}", (f"group:{rng.choice(groups)}", "public"))
        for _ in range(50)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        started = time.perf_counter()
        with CasbinPolicyEngine(settings=PolicySettings(policy_path=path)) as engine:
            load_ms = (time.perf_counter() - started) * 1000
            timings = _measure(engine, identities, chunks)
            started = time.perf_counter()
            engine.reload()  # unchanged: read, validate and hash only
            reload_unchanged_ms = (time.perf_counter() - started) * 1000

    expand_and_compile = _percentiles(timings["both"], 1e6)
    return {
        "policy_lines": len(lines),
        "groups": n_groups,
        "users": len(users),
        "requests": requests,
        "load_ms": round(load_ms, 1),
        "reload_unchanged_ms": round(reload_unchanged_ms, 1),
        "expand_and_compile_ms": expand_and_compile,
        "principal_for_ms": _percentiles(timings["principal"], 1e6),
        "access_filter_ms": _percentiles(timings["filter"], 1e6),
        "can_read_per_chunk_us": _percentiles(timings["chunk"], 1e3),
        "reference_enforce_ms": _percentiles(timings["reference"], 1e6),
        "held_references": _percentiles(timings["holds"], 1),
        "budget_p95_ms": BUDGET_P95_MS,
        "within_budget": expand_and_compile["p95"] <= BUDGET_P95_MS,
    }


def _measure(
    engine: CasbinPolicyEngine,
    identities: Sequence[tuple[str, list[str]]],
    chunks: Sequence[tuple[str, tuple[str, ...]]],
) -> dict[str, list[int]]:
    clock = time.perf_counter_ns
    timings: dict[str, list[int]] = {
        k: [] for k in ("principal", "filter", "both", "holds", "chunk", "reference")
    }
    for user, idp in identities[:1000]:  # warm-up
        engine.access_filter(engine.principal_for(user, idp))
    for user, idp in identities:
        t0 = clock()
        principal = engine.principal_for(user, idp)
        t1 = clock()
        access = engine.access_filter(principal)
        t2 = clock()
        timings["principal"].append(t1 - t0)
        timings["filter"].append(t2 - t1)
        timings["both"].append(t2 - t0)
        timings["holds"].append(len(access.holds))
    for user, idp in identities[:2000]:  # the per-chunk re-check, 50 chunks a request
        access = engine.access_filter(engine.principal_for(user, idp))
        t0 = clock()
        for source_id, read in chunks:
            engine.can_read(access, source_id=source_id, read=read, deny=())
        timings["chunk"].append((clock() - t0) // len(chunks))
    for user, idp in identities[:20]:  # Casbin's enforce() over every line: the slow reference
        source_id, read = chunks[0]
        t0 = clock()
        engine.reference_can_read(user, idp, source_id=source_id, read=read, deny=())
        timings["reference"].append(clock() - t0)
    return timings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--policies", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args(argv)
    result = run(args.policies, args.groups, requests=args.requests)
    print(json.dumps(result, indent=2))
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
