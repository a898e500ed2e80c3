"""The CLAP NQ rows the answers suite asks (`answerable.jsonl`, `unanswerable.jsonl`), and the
corpus written from their passages: one Markdown document per row (`<row id>.md`, title as
heading) of the one source `SOURCE_ID`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.corpus_files import read_jsonl

__all__ = ["SOURCE_ID", "ClapRow", "load_clapnq", "write_clapnq_corpus"]

SOURCE_ID = "clapnq"


@dataclass(frozen=True)
class ClapRow:
    id: str
    question: str
    answerable: bool
    title: str
    passage: str
    answer: str
    selected: tuple[str, ...]


def load_clapnq(folder: Path, *, limit: int | None = None) -> list[ClapRow]:
    """The rows of both files (the first `limit` of each with a limit)."""
    rows: list[ClapRow] = []
    for name, answerable in (("answerable.jsonl", True), ("unanswerable.jsonl", False)):
        for count, raw in enumerate(read_jsonl(folder / name)):
            if limit is not None and count >= limit:
                break
            passage = raw["passages"][0]  # type: ignore[index]
            output = raw["output"][0]  # type: ignore[index]
            rows.append(
                ClapRow(
                    id=str(raw["id"]),
                    question=str(raw["input"]),
                    answerable=answerable,
                    title=" ".join(str(passage["title"]).split()),
                    passage=str(passage["text"]).strip(),
                    answer=str(output.get("answer") or ""),
                    selected=tuple(str(s) for s in output.get("selected_sentences") or ()),
                )
            )
    return rows


def write_clapnq_corpus(rows: Sequence[ClapRow], docs: Path) -> None:
    """One Markdown document per row under `docs`: its title as heading, then its passage."""
    docs.mkdir(parents=True, exist_ok=True)
    for row in rows:
        body = f"# {row.title}\n\n{row.passage}\n"
        (docs / f"{row.id}.md").write_text(body, encoding="utf-8")
