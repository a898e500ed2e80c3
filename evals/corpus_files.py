"""Turn an evaluation corpus into an approved filesystem source, so evals use the real pipeline."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

__all__ = ["read_jsonl", "write_beir_corpus", "write_sources_file"]


def read_jsonl(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def write_beir_corpus(corpus: Path, out_dir: Path, *, limit: int | None = None) -> int:
    """One Markdown file per BEIR document (`<_id>.md`, title as heading); returns the count."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for row in read_jsonl(corpus):
        if limit is not None and written >= limit:
            break
        doc_id = str(row["_id"])
        title = " ".join(str(row.get("title") or "").split())
        text = str(row.get("text") or "").strip()
        body = f"# {title}\n\n{text}\n" if title else f"{text}\n"
        (out_dir / f"{_safe(doc_id)}.md").write_text(body, encoding="utf-8")
        written += 1
    return written


def write_sources_file(
    path: Path, roots: Iterable[tuple[str, Path]], *, read: Iterable[str] = ("public",)
) -> Path:
    """A sources file declaring each (source id, root) as a filesystem source."""
    sources = [
        {
            "id": source_id,
            "kind": "filesystem",
            "root": str(root),
            "include": ["**/*.md", "**/*.txt"],
            "read": list(read),
        }
        for source_id, root in roots
    ]
    path.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    return path


def _safe(doc_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in doc_id)


def key_to_doc_id(key: str) -> str:
    """The BEIR id back from a document key (`123.md` → `123`)."""
    return key.rsplit("/", 1)[-1].removesuffix(".md")
