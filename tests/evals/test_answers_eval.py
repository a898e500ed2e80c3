"""The CLAP NQ answers eval on a small file of the same shape: the trace it reads back carries
the documents the verified sentences cite, so an answer citing its own passage counts as such in
the cross-validated threshold estimate too (a renamed trace attribute once made it read none)."""

from __future__ import annotations

import json
from pathlib import Path

from evals.suites import answers as answers_suite
from retrieval.embedding.embedder import Embedder

ROWS = [
    (
        "a1",
        "How long do print jobs wait at the printer?",
        "Printing",
        "Print jobs wait at the printer for 24 hours. After that they are deleted automatically.",
        "Print jobs wait at the printer for 24 hours.",
    ),
    (
        "a2",
        "Which extension reaches the service desk?",
        "Service desk",
        "The service desk answers on extension 4400 from 8am to 6pm on weekdays.",
        "The service desk answers on extension 4400 from 8am to 6pm on weekdays.",
    ),
    (
        "a3",
        "How often must the VPN password be changed?",
        "VPN passwords",
        "VPN passwords expire every 90 days. The portal reminds you a week before expiry.",
        "VPN passwords expire every 90 days.",
    ),
]
UNANSWERABLE = [
    ("u1", "Who designed the cafeteria's mural?", "Cafeteria", "The cafeteria opens at 7am."),
]


def _write(folder: Path) -> None:
    def line(row_id: str, question: str, title: str, passage: str, selected: list[str]) -> str:
        return json.dumps(
            {
                "id": row_id,
                "input": question,
                "passages": [{"title": title, "text": passage}],
                "output": [{"answer": " ".join(selected), "selected_sentences": selected}],
            }
        )

    folder.mkdir()
    (folder / "answerable.jsonl").write_text(
        "\n".join(line(i, q, t, p, [s]) for i, q, t, p, s in ROWS) + "\n", encoding="utf-8"
    )
    (folder / "unanswerable.jsonl").write_text(
        "\n".join(line(i, q, t, p, []) for i, q, t, p in UNANSWERABLE) + "\n", encoding="utf-8"
    )


def test_answers_citing_their_passage_are_seen_as_verified_by_the_eval(
    tmp_path: Path, embedder: Embedder
) -> None:
    _write(tmp_path / "clapnq")
    metrics = answers_suite.run(tmp_path / "clapnq", embedder=embedder, workdir=tmp_path / "work")
    rows = metrics["per_question"]
    assert isinstance(rows, list) and len(rows) == len(ROWS) + len(UNANSWERABLE)
    citing = [r for r in rows if r["answerable"] and r["cites_own"]]
    assert citing, rows  # the sample's answers cite their passages
    assert all(r["verified_own"] for r in citing), rows
    assert all(r["score"] > 0 for r in citing), rows
