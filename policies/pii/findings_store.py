"""PII findings of indexed text, computed at ingest and read back when an answer is masked.

An extractive answer and its citations quote sentences of the index; masking them for the
audit record, a hand-off or a trace used to run spaCy's NER on every request (~25 ms of CPU
under the GIL, the API's largest cost). Ingestion now analyses each sentence once and keeps
its findings here; `PresidioRedactor` looks a segment up before analysing it.

A row holds spans and types only, under SHA-256 of the redaction fingerprint and the text: a
change of entities, recognizers, allow list or model is a new fingerprint, so stale findings are
never used. (The state database also holds the indexed sentences themselves, so a digest of an
indexed sentence reveals nothing new; request text is never written here.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from sqlalchemy import Engine, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from infra.sql_sweep import LiveKeys, SweepCount, sweep
from infra.sql_upsert import dialect_insert
from infra.state_migrations import ensure_state_schema
from policies.pii.types import PiiFinding

__all__ = ["FindingsStore"]


class _Base(DeclarativeBase):
    pass


class _FindingsRow(_Base):
    __tablename__ = "pii_findings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    findings: Mapped[str] = mapped_column(Text)  # JSON: [[entity_type, start, end, score]]


class FindingsStore:
    """Findings by `key(text)`, for one redaction fingerprint."""

    def __init__(self, *, engine: Engine, fingerprint: str) -> None:
        self._engine = engine
        self._fingerprint = fingerprint.encode()
        ensure_state_schema(engine)

    def key(self, text: str) -> str:
        digest = hashlib.sha256(self._fingerprint + b"\x1e")
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def sweep(self, live: LiveKeys, *, dry_run: bool = False) -> SweepCount:
        """Delete the findings whose key is not in `live` (among them every finding stored
        under another fingerprint)."""
        return sweep(self._engine, _FindingsRow.key, live, dry_run=dry_run)

    def get(self, keys: Sequence[str]) -> dict[str, tuple[PiiFinding, ...]]:
        found: dict[str, tuple[PiiFinding, ...]] = {}
        if not keys:
            return found
        with self._engine.connect() as connection:
            for start in range(0, len(keys), 500):
                rows = connection.execute(
                    select(_FindingsRow.key, _FindingsRow.findings).where(
                        _FindingsRow.key.in_(list(keys[start : start + 500]))
                    )
                )
                for key, payload in rows:
                    found[key] = tuple(
                        PiiFinding(str(t), int(a), int(b), float(score))
                        for t, a, b, score in json.loads(payload)
                    )
        return found

    def put(self, entries: Mapping[str, tuple[PiiFinding, ...]]) -> None:
        if not entries:
            return
        rows = [
            {
                "key": key,
                "findings": json.dumps([[f.entity_type, f.start, f.end, f.score] for f in found]),
            }
            for key, found in entries.items()
        ]
        insert = dialect_insert(self._engine, _FindingsRow)
        with self._engine.begin() as connection:
            statement = insert.on_conflict_do_nothing(index_elements=["key"])
            connection.execute(statement, rows)
