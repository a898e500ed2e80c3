"""`proofdesk serve` as a process: what it writes to stderr is masked, and the identifiers a
client chooses (`X-Request-ID`, `conversation_id`) are pseudonymised before they are logged or
stored."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from tests.fixtures.credentials import Keys
from tests.fixtures.kb_index import KB

REPO = Path(__file__).resolve().parents[2]
EMAIL = "jane.doe@example.com"
CARD = "4111111111111111"
REQUEST_ID = f"card.{CARD}"  # the server accepts it as an id (letters, digits, dots)
CONVERSATION = "jane.doe.private-case"


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    state_db: Path
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if line.rstrip().endswith(": ready"):
                self.ready.set()
        self.ready.set()  # the process ended: nobody waits any longer

    def stderr(self) -> str:
        return "".join(self.lines)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _config(tmp_path: Path, keys: Keys, *, log_format: str) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lockers.md").write_text(
        "# Lockers\nDay lockers on the second floor open with your staff badge.\n",
        encoding="utf-8",
    )
    sources = {
        "sources": [
            {"id": "lockers", "kind": "filesystem", "root": str(docs), "read": ["group:all-staff"]}
        ]
    }
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources), encoding="utf-8")
    settings = {
        "log_level": "INFO",
        "logging": {"format": log_format},
        "ingest": {
            "sources_file": str(tmp_path / "sources.yaml"),
            "state_url": f"sqlite:///{tmp_path / 'state.db'}",
            "flag_pii": False,
        },
        "store": {"path": str(tmp_path / "index")},
        "policy": {"policy_path": str(KB / "policy.csv")},
        "audit": {"url": f"sqlite:///{tmp_path / 'audit.db'}"},
        "redaction": {"analysis_processes": 0},
        "api": {"api_keys_file": str(keys.file), "run_scheduler": False},
    }
    path = tmp_path / "proofdesk.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


@pytest.fixture
def served(tmp_path: Path, keys: Keys) -> Iterator[Served]:
    port = _free_port()
    config = _config(tmp_path, keys, log_format="text")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PROOFDESK_CONFIG": str(config)}
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Served(f"http://127.0.0.1:{port}", process, tmp_path / "state.db")
    reader = threading.Thread(target=server.read, daemon=True)
    reader.start()
    try:
        assert server.ready.wait(300), "the server did not become ready"
        assert process.poll() is None, server.stderr()
        yield server
    finally:
        process.terminate()
        process.wait(60)
        reader.join(30)


def test_served_logs_mask_the_question_and_client_chosen_identifiers(
    served: Served, keys: Keys
) -> None:
    question = f"My email is {EMAIL} and my card {CARD} was charged twice for a locker"
    with httpx.Client(base_url=served.url, timeout=120) as client:
        response = client.post(
            # uvicorn's access log writes the path with its query string
            f"/v1/chat?ref={EMAIL}&card={CARD}",
            json={"question": question, "conversation_id": CONVERSATION},
            headers={**keys.auth("chat"), "X-Request-ID": REQUEST_ID},
        )
        assert response.status_code == 200, response.text
        answer_id = response.json()["answer_id"]
        again = client.get(f"/v1/answers/{answer_id}", headers=keys.auth("chat"))
    served.process.terminate()
    served.process.wait(60)

    logged = served.stderr()
    assert "POST /v1/chat 200" in logged, logged  # the access log is there
    for raw in (EMAIL, CARD, REQUEST_ID, CONVERSATION):
        assert raw not in logged, raw
    # the audit record, the one store of answers, keeps the conversation under its pseudonym,
    # never the chosen id, and the question masked
    with sqlite3.connect(served.state_db.with_name("audit.db")) as db:
        [(conversation, asked)] = db.execute(
            "SELECT conversation_id, question FROM audit_answers WHERE answer_id = ?", (answer_id,)
        ).fetchall()
    assert conversation != CONVERSATION and EMAIL not in asked and CARD not in asked
    assert again.status_code == 200 and again.json()["conversation_id"] != CONVERSATION
