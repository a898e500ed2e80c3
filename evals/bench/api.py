"""Chat API throughput under load on 127.0.0.1: `proofdesk serve` over a 10,000-chunk index.

The index is the retrieval benchmark's corpus (see `evals.bench.retrieval`), written to a Qdrant
Edge shard that a real `proofdesk serve` subprocess (uvicorn, one process) then owns, with the
corpus's Casbin policy, an API key file (a `chat` + `act_as` key) and the answer cache off, so
that every request runs the whole extractive pipeline (masking worker and audit record
included). The server is the product's own process: `serve` builds `build_services` and
`create_app` (the composition root) from the config file and runs them under uvicorn on
127.0.0.1, apart from this process so that the load generator neither holds the server's
interpreter lock nor counts in its CPU time. A load generator in this process (asyncio + httpx,
keep-alive, a fixed number of concurrent clients) sends `POST /v1/chat` as the corpus's 50 users
in turn, each request a question not asked before (SciFact's and CLAP NQ's), bounded by a
request count and a time limit, and reports throughput, p50/p95/p99, errors and the server's
CPU time per request (user + system of the server process and its PII analysis worker, from
/proc: the cost that decides throughput on 2 cores, and a figure that moves far less than req/s
with whatever else the machine runs). The server's index and state database (every chunk's
sentence vectors and the PII findings of its sentences, as `proofdesk ingest` leaves them) are
written through the composition root too: `Components` over the same config file.

Four runs, each against a fresh server on the same index, so the table reads as ratios:
`GET /healthz` (the server's ceiling on this machine: HTTP, auth-free), chat with tracing off,
chat traced to a reachable Langfuse host (a loopback sink answering 200), and chat with the
Langfuse host unreachable (a closed port on 127.0.0.1): unreachable against reachable is what
an outage of Langfuse costs, and should not move beyond noise.

    python -m evals.bench.api --data ../shared/data [--requests 980] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml

from api.auth import generate_api_key, hash_api_key
from api.bootstrap.components import Components
from api.settings import load_settings
from evals.bench.answers import SENTENCE_DB, store_sentence_vectors
from evals.bench.baseline import percentiles
from evals.bench.retrieval import (
    Corpus,
    build_corpus,
    load_edge_index,
    load_queries,
    real_chunks,
)
from evals.corpus_files import read_jsonl
from evals.suites.retrieval import default_cache_dir
from retrieval.embedding.embedder import Embedder, load_embedder

__all__ = ["bench_rows", "run"]

_READY_TIMEOUT_S = 180.0


class _LangfuseSink:
    """A loopback HTTP server that takes what the Langfuse SDK exports and answers 200, as a
    healthy Langfuse would (the bench's reachable host); it counts requests, keeps nothing."""

    def __init__(self) -> None:
        sink = self
        self.requests = 0

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.requests += 1
                protobuf = self.path.endswith("/v1/traces")
                reply = b"" if protobuf else b"{}"
                self.send_response(200)
                self.send_header(
                    "Content-Type", "application/x-protobuf" if protobuf else "application/json"
                )
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _LangfuseSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _clapnq_questions(data: Path) -> list[str]:
    return [
        str(row["input"])
        for name in ("answerable.jsonl", "unanswerable.jsonl")
        for row in read_jsonl(data / "clapnq" / name)
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp: Path, corpus: Corpus, key: str, tracing: Mapping[str, object]) -> Path:
    (tmp / "policy.csv").write_text("\n".join(corpus.policy_lines) + "\n", encoding="utf-8")
    (tmp / "empty").mkdir(exist_ok=True)
    sources = {
        "sources": [
            {
                "id": "bench",
                "kind": "filesystem",
                "root": str(tmp / "empty"),
                "include": ["**/*.md"],
                "read": ["group:all-staff"],
            }
        ]
    }
    (tmp / "sources.yaml").write_text(yaml.safe_dump(sources), encoding="utf-8")
    keys = {
        "keys": [
            {
                "id": "bench",
                "scopes": ["chat", "act_as"],
                "user_id": "svc-bench",
                "hash": hash_api_key(key),
            }
        ]
    }
    (tmp / "api_keys.yaml").write_text(yaml.safe_dump(keys), encoding="utf-8")
    config = {
        "ingest": {"sources_file": str(tmp / "sources.yaml"), "state_url": f"sqlite:///{tmp}/s.db"},
        "store": {"backend": "edge", "path": str(tmp / "index")},
        "policy": {"policy_path": str(tmp / "policy.csv")},
        "audit": {"url": f"sqlite:///{tmp}/audit.db"},
        "answer_cache": {"enabled": False},
        "tracing": dict(tracing),
        "log_level": "WARNING",
        "api": {
            "api_keys_file": str(tmp / "api_keys.yaml"),
            "run_scheduler": False,
            "rate_limits": {"per_key": "1000000/minute", "per_user": "1000000/minute"},
        },
    }
    path = tmp / f"proofdesk-{len(list(tmp.glob('proofdesk-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _prepare(tmp: Path, corpus: Corpus, key: str, embedder: Embedder) -> dict[str, float]:
    """The server's index and state database, as `proofdesk ingest` leaves them for answering:
    the corpus in the index, every chunk's sentence vectors and the PII findings of every
    sentence. Built through the composition root over the settings the server reads (its
    config file), so the store, the sentence vectors and the findings (keyed by the redactor's
    fingerprint) are the ones it opens; the state database is the eval cache's (the findings
    take long to compute), copied for the server. Returns what was computed now."""
    settings = load_settings(_config(tmp, corpus, key, {}))
    cached = default_cache_dir() / SENTENCE_DB
    state = settings.ingest.model_copy(update={"state_url": f"sqlite:///{cached}"})
    with Components(settings.model_copy(update={"ingest": state}), embedder=embedder) as parts:
        load_edge_index(corpus, parts.store)
        parts.store.optimize()
        computed = store_sentence_vectors(corpus.chunks, parts.sentences, parts.redactor.precompute)
    # Closing disposed of the state engine: its last connection checkpointed the WAL into the
    # file, which the copy takes whole.
    shutil.copyfile(cached, tmp / "s.db")
    return computed


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (Linux)."""
    return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of a process and of its live child processes (the
    server's PII analysis worker), which serve its requests too (Linux /proc)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(config: Path, log: Path) -> Iterator[tuple[str, int]]:
    port = _free_port()
    command = [sys.executable, "-m", "api.cli", "serve", "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with log.open("ab") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=sink, env=env)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}; see {log}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not ready in {_READY_TIMEOUT_S} s; see {log}")
            time.sleep(0.5)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _load(
    url: str,
    *,
    path: str,
    key: str,
    questions: Sequence[str],
    users: Sequence[str],
    requests: int,
    concurrency: int,
    time_limit_s: float,
) -> dict[str, object]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    issued = 0
    deadline = time.monotonic() + time_limit_s

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < requests and time.monotonic() < deadline:
            n = issued
            issued += 1
            started = time.perf_counter()
            try:
                if path == "/healthz":
                    response = await http.get(path)
                else:
                    response = await http.post(
                        path,
                        json={"question": questions[n % len(questions)]},
                        headers={"X-Proofdesk-User": users[n % len(users)]},
                    )
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            latencies.append((time.perf_counter() - started) * 1000)
            if status != "200":
                errors[status] = errors.get(status, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    stats = percentiles(latencies)
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": stats["p50"],
        "p95_ms": stats["p95"],
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2)
        if ordered
        else 0.0,
        "errors": errors,
    }


def run(
    data: Path,
    *,
    size: int = 10_000,
    requests: int = 980,
    concurrency: int = 8,
    time_limit_s: float = 120.0,
) -> dict[str, object]:
    embedder = load_embedder()
    texts, vectors = real_chunks(data, embedder, default_cache_dir())
    corpus = build_corpus(texts, vectors, size)
    # Every request asks a different question (SciFact's 809 and CLAP NQ's 200), so no cache
    # of the server's (the query embedding's) answers a repeat.
    questions = load_queries(data, 1000) + _clapnq_questions(data)
    users = sorted(corpus.users)
    key = generate_api_key()
    result: dict[str, object] = {"chunks": len(corpus.chunks), "concurrency": concurrency}
    unreachable = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    receiver = _LangfuseSink()
    keys = {"langfuse_public_key": "pk-lf-bench", "langfuse_secret_key": "sk-lf-bench"}
    runs: list[tuple[str, str, Mapping[str, object]]] = [
        ("healthz", "/healthz", {}),
        ("chat", "/v1/chat", {}),
        ("chat_langfuse_reachable", "/v1/chat", keys | {"langfuse_host": receiver.url}),
        ("chat_langfuse_unreachable", "/v1/chat", keys | {"langfuse_host": unreachable}),
    ]
    with receiver, tempfile.TemporaryDirectory(prefix="pd-bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        result["sentence_vectors"] = _prepare(tmp, corpus, key, embedder)
        for name, path, tracing in runs:
            config = _config(tmp, corpus, key, tracing)
            with _server(config, tmp / "server.log") as (url, pid):
                warm = asyncio.run(
                    _load(
                        url,
                        path=path,
                        key=key,
                        questions=questions,
                        users=users,
                        requests=20,
                        concurrency=2,
                        time_limit_s=60,
                    )
                )
                cpu_before, client_before = _cpu_seconds(pid), time.process_time()
                measured = asyncio.run(
                    _load(
                        url,
                        path=path,
                        key=key,
                        questions=questions[20:],
                        users=users,
                        requests=requests,
                        concurrency=concurrency,
                        time_limit_s=time_limit_s,
                    )
                )
                cpu = _cpu_seconds(pid) - cpu_before
                client_cpu = time.process_time() - client_before
            done = measured["requests"]
            assert isinstance(done, int)
            # The server's CPU time per request: what throughput on 2 cores is made of, and a
            # figure that moves far less than req/s with whatever else the machine runs.
            measured["server_cpu_ms_per_request"] = round(cpu * 1000 / max(1, done), 2)
            # This process's: the load generator (and the Langfuse sink), on the same 2 cores.
            measured["client_cpu_ms_per_request"] = round(client_cpu * 1000 / max(1, done), 2)
            result[name] = measured | {"warmup_errors": warm["errors"]}
        result["langfuse_exports_received"] = receiver.requests
    return result


def bench_rows(
    data: Path, *, quick: bool = False
) -> tuple[list[tuple[str, ...]], dict[str, object]]:
    """`evals.bench`'s rows: chat throughput against /healthz; p95 with Langfuse unreachable
    against tracing off."""
    result = run(data, requests=300 if quick else 980)
    health, chat, lit, dark = (
        result[k]
        for k in ("healthz", "chat", "chat_langfuse_reachable", "chat_langfuse_unreachable")
    )
    assert isinstance(health, dict) and isinstance(chat, dict)
    assert isinstance(lit, dict) and isinstance(dark, dict)
    errors = sum(chat["errors"].values()) + sum(dark["errors"].values())
    rows: list[tuple[str, ...]] = [
        (
            f"chat API, {result['chunks']} chunks, {result['concurrency']} clients (req/s; "
            f"p95 ms; errors)",
            f"{chat['rps']} ; {chat['p95_ms']} ; {errors}",
            f"GET /healthz: {health['rps']} req/s",
            f"{chat['rps'] / health['rps']:.2f}×" if health["rps"] else "-",
        ),
        (
            "chat API p95 (ms), Langfuse host unreachable",
            f"{dark['p95_ms']} ({dark['rps']} req/s)",
            f"Langfuse reachable: {lit['p95_ms']} ({lit['rps']} req/s); tracing off: "
            f"{chat['p95_ms']}",
            f"{dark['p95_ms'] / lit['p95_ms']:.2f}× (vs reachable)" if lit["p95_ms"] else "-",
        ),
        (
            "chat API, server CPU per request (ms; tracing off / Langfuse reachable)",
            f"{chat['server_cpu_ms_per_request']} / {lit['server_cpu_ms_per_request']}",
            f"GET /healthz: {health['server_cpu_ms_per_request']}",
            "-",
        ),
    ]
    return rows, result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench.api", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=980)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=120.0)
    args = parser.parse_args(argv)
    result = run(
        args.data,
        size=args.size,
        requests=args.requests,
        concurrency=args.concurrency,
        time_limit_s=args.time_limit,
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
