"""Builders shared by the sync tests: a small source tree and a fully wired IngestService."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.chunking import Chunker
from ingest.connector_factory import connector_for
from ingest.formats.limits import ParseLimits
from ingest.jobs import JobStore
from ingest.runner import SyncRunner
from ingest.sources import SourceRegistry, load_sources
from ingest.state import StateStore, create_state_engine
from ingest.sync import IngestService
from retrieval.embedding.embedder import Embedder
from retrieval.sentence_vectors import SentenceVectors
from retrieval.store import VectorStore
from retrieval.store_factory import EdgeStoreSettings, open_store

VPN = """\
---
title: VPN setup
---
# VPN setup

Install the GlobalConnect client from the software portal. Sign in with your staff account.

## Troubleshooting

If the tunnel drops every few minutes, switch the protocol to TCP in the client settings.
Error 809 means the office firewall blocks the connection; call the service desk on 4400.
"""

PRINTERS = """\
Printers

Every floor has two printers. Send jobs to the queue named FOLLOW-ME and badge at any device.
Toner is replaced by facilities within one working day of a ticket.
"""

WIFI = """\
<html><head><title>Wi-Fi access</title></head><body>
<h1 id="wifi">Wi-Fi access</h1>
<p>Connect to the network NW-Staff with your staff account.
Guests use NW-Guest with a daily code.</p>
<h2 id="eduroam">Eduroam</h2><p>Eduroam is not available in the office buildings.</p>
</body></html>
"""

SALARIES = """\
---
read: ["group:hr"]
---
# Salary review

Salary bands are reviewed every March. The review code is SALARYBAND-77.
"""


def write_source_tree(root: Path) -> None:
    (root / "it").mkdir(parents=True)
    (root / "it" / "vpn.md").write_text(VPN, encoding="utf-8")
    (root / "it" / "printers.txt").write_text(PRINTERS, encoding="utf-8")
    (root / "it" / "wifi.html").write_text(WIFI, encoding="utf-8")
    (root / "it" / "salaries.md").write_text(SALARIES, encoding="utf-8")


def write_sources_file(path: Path, root: Path, *, extra: str = "") -> Path:
    path.write_text(
        textwrap.dedent(
            f"""\
            sources:
              - id: it-kb
                kind: filesystem
                root: {root}
                read: ["group:all-staff"]
                schedule: "0 * * * *"
            """
        )
        + extra,
        encoding="utf-8",
    )
    return path


@dataclass
class Wired:
    service: IngestService
    runner: SyncRunner
    store: VectorStore
    state: StateStore
    registry: SourceRegistry

    def close(self) -> None:
        self.store.close()


def wire(
    tmp: Path,
    sources_file: Path,
    embedder: Embedder,
    *,
    batch_chunks: int = 256,
    wrap_store: Callable[[VectorStore], VectorStore] | None = None,
    sentences: SentenceVectors | None = None,
    pii_findings: Callable[[Sequence[str]], int] | None = None,
    parse_limits: ParseLimits | None = None,
) -> Wired:
    registry = load_sources(sources_file)
    engine = create_state_engine(f"sqlite:///{tmp / 'state.db'}")
    store = open_store(EdgeStoreSettings(path=tmp / "index"), dimension=embedder.dimension)
    if wrap_store is not None:
        store = wrap_store(store)
    state = StateStore(engine=engine)
    service = IngestService(
        registry=registry,
        store=store,
        embedder=embedder,
        chunker=Chunker(tokens=embedder, target_tokens=60),
        state=state,
        connector_for=connector_for,
        batch_chunks=batch_chunks,
        sentence_vectors=sentences,
        pii_findings=pii_findings,
        parse_limits=parse_limits,
    )
    runner = SyncRunner(service=service, jobs=JobStore(engine=engine))
    return Wired(service=service, runner=runner, store=store, state=state, registry=registry)


def write_many_documents(root: Path, count: int) -> None:
    """`count` distinct Markdown documents, each a few chunks long at target_tokens=60."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        paragraphs = "\n\n".join(
            f"Step {j} of procedure {i}: open ticket queue Q{i}-{j}, check the asset tag "
            f"AT-{i:03d}{j}, confirm the owner and close the request within {j + 1} days."
            for j in range(6)
        )
        (root / f"procedure-{i:02d}.md").write_text(
            f"# Procedure {i}\n\n{paragraphs}\n", encoding="utf-8"
        )
