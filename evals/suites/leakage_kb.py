"""The leakage suite's ground truth, from the knowledge base's own files: the canaries and who
may see them (`canaries.yaml`), the personas and the principals they hold (`identities.yaml`),
the questions (`questions.yaml`); and the knowledge base rewritten for a probe: canaries
planted next to the declared ones, or swapped for twins that exist nowhere."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from policies.access.principal import PUBLIC, group_ref, user_ref

__all__ = [
    "Canary",
    "Persona",
    "context_query",
    "load_canaries",
    "load_personas",
    "load_questions",
    "plant_canaries",
    "swap_canaries",
    "twin",
]

_TOKEN = re.compile(r"^(?P<prefix>.*[-_])(?P<suffix>[0-9a-fA-F]{6,})$")


@dataclass(frozen=True)
class Canary:
    string: str
    document: str  # relative to the knowledge base directory
    readers: frozenset[str]
    deny: frozenset[str] = frozenset()
    planted: bool = False

    def visible_to(self, refs: frozenset[str]) -> bool:
        return bool(refs & self.readers) and not refs & self.deny


@dataclass(frozen=True)
class Persona:
    """A user as the identity provider reports them (None: anonymous), with expanded refs."""

    user: str | None
    idp_groups: tuple[str, ...]
    refs: frozenset[str]

    @property
    def name(self) -> str:
        return self.user or "(anonymous)"


def load_canaries(path: Path) -> list[Canary]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["canaries"]
    return [
        Canary(
            string=str(c["string"]),
            document=str(c["document"]),
            readers=frozenset(map(str, c["readers"])),
            deny=frozenset(map(str, c.get("deny") or ())),
        )
        for c in raw
    ]


def load_personas(path: Path) -> list[Persona]:
    """Every user of `identities.yaml`, an anonymous caller and a user nobody knows."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    parents: Mapping[str, Sequence[str]] = raw.get("groups") or {}

    def expand(groups: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(groups)
        while todo:
            group = todo.pop()
            if group in parents and group not in seen:  # an undefined group matches nobody
                seen.add(group)
                todo.extend(parents[group])
        return seen

    personas = [
        Persona(
            user=str(user),
            idp_groups=tuple(map(str, spec.get("groups") or ())),
            refs=frozenset(
                {PUBLIC, user_ref(str(user))}
                | {group_ref(g) for g in expand(map(str, spec.get("groups") or ()))}
            ),
        )
        for user, spec in sorted(raw["users"].items())
    ]
    personas.append(Persona(None, (), frozenset({PUBLIC})))
    personas.append(Persona("stranger", ("no-such-group",), frozenset({PUBLIC, "user:stranger"})))
    return personas


def load_questions(path: Path) -> list[str]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    return list(dict.fromkeys(str(q["question"]) for q in raw))


def twin(string: str) -> str:
    """A string that exists nowhere, shaped like `string` (same prefix and suffix length)."""
    match = _TOKEN.match(string)
    prefix, n = (match["prefix"], len(match["suffix"])) if match else (string[:-8], 8)
    return prefix + secrets.token_hex((n + 1) // 2)[:n]


def context_query(text: str, canary: str) -> str | None:
    """The sentence around a canary with the canary taken out (a question that finds it)."""
    at = text.find(canary)
    if at < 0:
        return None
    start = max(text.rfind(". ", 0, at), text.rfind("\n\n", 0, at)) + 1
    end = text.find(". ", at)
    sentence = text[start : end if end > 0 else len(text)].replace(canary, " ")
    return " ".join(sentence.split()) or None


def swap_canaries(kb: Path, canaries: Sequence[Canary]) -> None:
    """Rewrite `kb` (a copy) so that each canary string is replaced by a fresh twin."""
    for canary in canaries:
        path = kb / canary.document
        text = path.read_text(encoding="utf-8")
        if canary.string not in text:
            raise ValueError(f"{canary.document} does not hold its canary {canary.string!r}")
        path.write_text(text.replace(canary.string, twin(canary.string)), encoding="utf-8")


def plant_canaries(kb: Path, canaries: Sequence[Canary]) -> list[Canary]:
    """Next to each canary's document, a new Markdown file with a fresh canary and the same
    access lists (front matter); returns the planted canaries."""
    planted: list[Canary] = []
    for n, canary in enumerate(canaries):
        source_doc = kb / canary.document
        context = context_query(
            source_doc.read_text(encoding="utf-8", errors="replace"), canary.string
        )
        string = twin(canary.string)
        rel = f"{Path(canary.document).parent.as_posix()}/zz-planted-note-{n}.md"
        front = {"read": sorted(canary.readers), "deny": sorted(canary.deny)}
        body = (
            f"---\n{yaml.safe_dump(front)}---\n\n# Internal reference note {n}\n\n"
            f"{context or 'Reference code for the records system'}: {string}. "
            "Quote it only on internal tickets.\n"
        )
        (kb / rel).write_text(body, encoding="utf-8")
        planted.append(Canary(string, rel, canary.readers, canary.deny, planted=True))
    return planted
