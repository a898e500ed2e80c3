"""Upgrading from the API's own answer store: its rows copied into the audit record.

Until the audit record became the one store of answers, the API kept answers and feedback in
the state database too (`pd_api_answers`, `pd_api_feedback`, state revision 0001). The state
revision `0002_drop_api_answers` drops those tables, and refuses while they hold rows, so no
rating goes unnoticed; `proofdesk migrate` first copies them (`adopt_api_answers`):

- an answer the audit record holds gets its asker (who may read it back);
- an answer it lacks (given before the record kept answers, or its write lost) is recorded,
  masked as every record is, with its own time;
- a rating is added, its comment masked, with its own time and user, unless the record has it
  already: the old service wrote each rating to both stores, the record's copy without its
  user, so a rating of the same answer and value, without a user and written within a minute,
  is that copy (and one with the same time is a copy an interrupted run made);
- a rating of an answer neither store holds is counted and logged, not copied (the audit
  database refuses feedback on no answer).

Then the old rows are deleted, and the state migration drops the empty tables. Running it
again copies nothing twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, MetaData, Table, delete, func, inspect, select

from agent.audit.models import FeedbackRecord
from agent.audit.store import AuditStore
from agent.types import Answer, Citation, TokenUsage
from policies.access.principal import Principal

__all__ = ["LEGACY_TABLES", "AdoptionReport", "adopt_api_answers", "legacy_rows"]

log = logging.getLogger(__name__)

LEGACY_TABLES = ("pd_api_feedback", "pd_api_answers")
_SAME_WRITE = timedelta(minutes=1)


@dataclass(frozen=True)
class AdoptionReport:
    askers: int = 0  # answers the audit record held, now with their asker
    answers: int = 0  # answers only the old store held, now recorded
    feedback: int = 0  # ratings copied
    duplicates: int = 0  # ratings the audit record held already
    orphans: int = 0  # ratings of an answer neither store holds: not copied

    def as_dict(self) -> dict[str, int]:
        return {
            "askers": self.askers,
            "answers": self.answers,
            "feedback": self.feedback,
            "duplicates": self.duplicates,
            "orphans": self.orphans,
        }


def legacy_rows(state: Engine) -> int:
    """How many rows the old answer store's tables hold (0 once they are gone)."""
    tables = _tables(state)
    with state.connect() as connection:
        return sum(
            int(connection.scalar(select(func.count()).select_from(t)) or 0)
            for t in tables.values()
        )


def adopt_api_answers(state: Engine, audit: Callable[[], AuditStore]) -> AdoptionReport:
    """Copy the old answer store's rows into the audit record (`audit()` is opened only when
    there are any), then delete them from the state database."""
    tables = _tables(state)
    if not tables or legacy_rows(state) == 0:
        return AdoptionReport()
    store = audit()
    with state.connect() as connection:
        answers = list(connection.execute(select(tables["pd_api_answers"])).mappings())
        ratings = list(
            connection.execute(
                select(tables["pd_api_feedback"]).order_by(tables["pd_api_feedback"].c.created_at)
            ).mappings()
        )
    askers = recorded = 0
    for row in answers:
        if store.get(row["answer_id"]) is None:
            answer = _answer_from(json.loads(row["answer_json"]))
            store.adopt(
                answer, _principal(row["asker"]), owner=row["asker"], created_at=_aware(row)
            )
            recorded += 1
        elif store.adopt_asker(row["answer_id"], row["asker"]):
            askers += 1
    copied = duplicates = orphans = 0
    held: dict[str, list[FeedbackRecord]] = {}
    for row in ratings:
        answer_id, rating, created = row["answer_id"], _rating(row["rating"]), _aware(row)
        if store.get(answer_id) is None:
            orphans += 1
            continue
        if answer_id not in held:
            held[answer_id] = store.feedback_for(answer_id)
        same = next((f for f in held[answer_id] if _same(f, rating, created)), None)
        if same is not None:
            held[answer_id].remove(same)
            duplicates += 1
            continue
        store.add_feedback(
            answer_id,
            rating,
            row["comment"],
            principal=_principal(row["asker"]),
            created_at=created,
        )
        copied += 1
    with state.begin() as connection:
        for table in tables.values():
            connection.execute(delete(table))
    report = AdoptionReport(
        askers=askers,
        answers=recorded,
        feedback=copied,
        duplicates=duplicates,
        orphans=orphans,
    )
    log.info("the API's answer store copied into the audit record: %s", report.as_dict())
    if orphans:
        log.warning(
            "%d ratings were of answers neither store holds (deleted by retention from one of "
            "them): not copied",
            orphans,
        )
    return report


def _tables(state: Engine) -> dict[str, Table]:
    present = set(inspect(state).get_table_names())
    meta = MetaData()
    return {
        name: Table(name, meta, autoload_with=state) for name in LEGACY_TABLES if name in present
    }


def _same(held: FeedbackRecord, rating: int, created: datetime) -> bool:
    if held.rating != rating:
        return False
    if held.created_at == created:  # copied by an earlier, interrupted run
        return True
    return held.user_pseudonym is None and abs(held.created_at - created) <= _SAME_WRITE


def _rating(value: int) -> Literal[1, -1]:
    return 1 if value > 0 else -1


def _principal(asker: str) -> Principal:
    """The user of `user:<id>`; a key without a user (`key:<id>`) had none."""
    kind, _, name = asker.partition(":")
    return Principal(user_id=name if kind == "user" and name else None)


def _aware(row: Any) -> datetime:
    value: datetime = row["created_at"]
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _answer_from(data: dict[str, Any]) -> Answer:
    """An answer as the old store kept it (`dataclasses.asdict` as JSON)."""
    data["citations"] = [Citation(**c) for c in data["citations"]]
    data["usage"] = TokenUsage(**data["usage"])
    data["flags"] = tuple(data["flags"])
    return Answer(**data)
