# ruff: noqa: T201  (a command-line check that reports on stdout)
"""Consistency checks for the sample knowledge base (kb/).

    .venv/bin/python kb/_build/check_kb.py

Checks that every document parses with the libraries ingestion uses (pypdf, python-docx,
BeautifulSoup), has headings and 150-900 words; that every YAML file loads; that the canaries
occur exactly once, in their document; and that each evaluation question is consistent with the
ACLs: an `answer` question's user may read one of its documents, which contains the expected key
facts, and a `refuse` question's user may read none of its documents.

The ACL resolution here is a small independent re-implementation of the documented semantics
(nearest `read` replaces the inherited one, `deny` accumulates, deny beats read). It lets this
fixture be checked on its own; it is not the product's policy engine.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import docx
import pypdf
import yaml
from bs4 import BeautifulSoup

KB = Path(__file__).resolve().parent.parent
DOC_TYPES = {".md", ".txt", ".html", ".pdf", ".docx"}
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)

problems: list[str] = []


def problem(message: str) -> None:
    problems.append(message)


def load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problem(f"{path.relative_to(KB)}: cannot load YAML: {exc}")
        return None


def extract(path: Path) -> tuple[str, bool]:
    """Return (text, has_headings) for a document."""
    suffix = path.suffix
    if suffix == ".pdf":
        reader = pypdf.PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
        for number, text in enumerate(pages, start=1):
            if not text.strip():
                problem(f"{path.relative_to(KB)}: page {number} has no text layer")
        return "\n".join(pages), bool(reader.outline)
    if suffix == ".docx":
        document = docx.Document(str(path))
        headings = [p for p in document.paragraphs if p.style.name.startswith("Heading")]
        parts = [p.text for p in document.paragraphs]
        for table in document.tables:
            parts.extend(cell.text for row in table.rows for cell in row.cells)
        return "\n".join(parts), len(headings) >= 2
    raw = path.read_text(encoding="utf-8")  # raises on invalid UTF-8
    if suffix == ".html":
        soup = BeautifulSoup(raw, "html.parser")
        return soup.get_text(" "), bool(soup.find("h1")) and bool(soup.find("h2"))
    if suffix == ".md":
        body = FRONT_MATTER.sub("", raw)
        return body, bool(re.search(r"^# ", body, re.M)) and bool(re.search(r"^## ", body, re.M))
    return raw, bool(re.search(r"^[A-Z0-9][A-Z0-9 ,()/&.:'-]+\n[=-]{3,}$", raw, re.M))


def acl_chain(path: Path, source: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Resolve (read, deny): source, then folder .acl.yaml files, sidecar, front matter."""
    read: list[str] = list(source.get("read", []))
    deny: list[str] = list(source.get("deny", []))
    root = (KB / source["root"]).resolve()
    layers: list[dict[str, Any]] = []
    folder = root
    for part in path.parent.relative_to(root).parts:
        folder = folder / part
        if (folder / ".acl.yaml").exists():
            layers.append(load_yaml(folder / ".acl.yaml") or {})
    if (root / ".acl.yaml").exists():
        layers.insert(0, load_yaml(root / ".acl.yaml") or {})
    sidecar = path.with_name(path.name + ".acl.yaml")
    if sidecar.exists():
        layers.append(load_yaml(sidecar) or {})
    if path.suffix == ".md":
        match = FRONT_MATTER.match(path.read_text(encoding="utf-8"))
        if match:
            layers.append(yaml.safe_load(match.group(1)) or {})
    for layer in layers:
        if "read" in layer:
            read = list(layer["read"])
        deny += list(layer.get("deny", []))
    return read, deny


def effective_principals(user: str, identities: dict[str, Any]) -> set[str]:
    groups_of = identities["groups"]
    seen: set[str] = set()
    todo = list(identities["users"][user]["groups"])
    while todo:
        group = todo.pop()
        if group in seen:
            continue
        seen.add(group)
        todo.extend(groups_of.get(group, []))
    return {f"user:{user}", "public"} | {f"group:{g}" for g in seen}


def can_read(principals: set[str], acl: tuple[list[str], list[str]]) -> bool:
    read, deny = acl
    return bool(principals & set(read)) and not principals & set(deny)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "").replace("`", "")).lower()


def main() -> int:  # noqa: PLR0912, PLR0915 - a linear list of checks reads best here
    sources = load_yaml(KB / "sources.yaml")["sources"]
    identities = load_yaml(KB / "identities.yaml")
    questions = load_yaml(KB / "questions.yaml")["questions"]
    canaries = load_yaml(KB / "canaries.yaml")["canaries"]
    for acl_file in sorted(KB.rglob("*.acl.yaml")) + sorted(KB.rglob(".acl.yaml")):
        data = load_yaml(acl_file) or {}
        unexpected = sorted(set(data) - {"read", "deny"})
        if unexpected:
            problem(f"{acl_file.relative_to(KB)}: unexpected keys {unexpected}")

    texts: dict[str, str] = {}
    acls: dict[str, tuple[list[str], list[str]]] = {}
    counts: Counter[str] = Counter()
    for source in sources:
        root = (KB / source["root"]).resolve()
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.suffix not in DOC_TYPES or path.name.startswith("."):
                continue
            rel = str(path.relative_to(KB))
            text, has_headings = extract(path)
            words = len(text.split())
            if not has_headings:
                problem(f"{rel}: no headings found")
            if not 150 <= words <= 900:
                problem(f"{rel}: {words} words, outside 150-900")
            texts[rel] = text
            acls[rel] = acl_chain(path, source)
            counts[path.suffix] += 1
            readers = sorted(
                u
                for u in identities["users"]
                if can_read(effective_principals(u, identities), acls[rel])
            )
            print(f"{rel:62} {path.suffix[1:]:5} {words:4} words  readers: {', '.join(readers)}")

    total = sum(counts.values())
    print(
        f"\n{total} documents: " + ", ".join(f"{n} {ext[1:]}" for ext, n in sorted(counts.items()))
    )
    minimum = {".pdf": 4, ".docx": 4, ".html": 5, ".txt": 5}
    for ext, need in minimum.items():
        if counts[ext] < need:
            problem(f"only {counts[ext]} {ext} documents, need {need}")
    if total < 44:
        problem(f"only {total} documents, need 44")

    # canaries: exactly once in the whole corpus, in the listed document, readable only by readers
    all_text = "\n".join(texts.values())
    for canary in canaries:
        string, document = canary["string"], canary["document"]
        if all_text.count(string) != 1 or string not in texts.get(document, ""):
            problem(f"canary {string}: must occur exactly once, in {document}")
        allowed = set(canary["readers"])
        denied = set(canary.get("deny", []))
        for user in identities["users"]:
            principals = effective_principals(user, identities)
            expected = bool(principals & allowed) and not principals & denied
            if document in acls and can_read(principals, acls[document]) != expected:
                problem(f"canary {string}: readers list disagrees with the ACL for user {user}")
    leftovers = set(re.findall(r"CANARY-[A-Z]+-[0-9a-f]{8}", all_text)) - {
        c["string"] for c in canaries
    }
    if leftovers:
        problem(f"canary-like strings not listed in canaries.yaml: {sorted(leftovers)}")

    # questions
    ids = Counter(q["id"] for q in questions)
    for qid, n in ids.items():
        if n > 1:
            problem(f"question id {qid} used {n} times")
    for q in questions:
        user, docs = q["user"], q.get("documents", [])
        if user not in identities["users"]:
            problem(f"{q['id']}: unknown user {user}")
            continue
        principals = effective_principals(user, identities)
        for doc in docs:
            if doc not in texts:
                problem(f"{q['id']}: unknown document {doc}")
        readable = [d for d in docs if d in texts and can_read(principals, acls[d])]
        if q["expect"] == "answer":
            if not readable:
                problem(f"{q['id']}: {user} cannot read any of {docs}")
            corpus = normalise(" ".join(texts[d] for d in readable))
            for needle in q.get("answer_contains", []):
                if normalise(needle) not in corpus:
                    problem(f"{q['id']}: '{needle}' not found in the documents {user} can read")
        elif q["expect"] == "refuse":
            if readable:
                problem(f"{q['id']}: expected refusal but {user} can read {readable}")
        else:
            problem(f"{q['id']}: expect must be answer or refuse")
    by_expect = Counter(q["expect"] for q in questions)
    print(f"{len(questions)} questions: {by_expect['answer']} answer, {by_expect['refuse']} refuse")

    if problems:
        print("\nPROBLEMS:")
        for message in problems:
            print(f"  - {message}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
