"""What the API needs from the rest of Proofdesk, as small ports (real services plug in here).

`ChatService` has the shape of the agent's `AnswerService.answer`, so the pipeline plugs in as
it is; tests plug in their own implementation through the same interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from agent.audit.models import AuditRecord, FeedbackRecord
from agent.types import Answer
from ingest.jobs import JobRecord
from ingest.sources import SourceConfig
from ingest.state_prune import PruneReport
from policies.access.engine import PolicyStatus
from policies.access.principal import Principal

__all__ = [
    "AnswerRecords",
    "ChatService",
    "PolicyAdmin",
    "Readiness",
    "ReadinessProbe",
    "SourceAdmin",
]


class ChatService(Protocol):
    """Answers one question as one principal: cited evidence or a refusal (never raises for a
    refusal). Raises the agent's invalid-question error for questions it will not take.

    `owner`: who owns the conversation (`user:<id>` or `key:<id>`, the identity's asker);
    conversations are never shared between owners."""

    def answer(
        self,
        question: str,
        *,
        principal: Principal,
        conversation_id: str | None = None,
        owner: str | None = None,
    ) -> Answer: ...


class AnswerRecords(Protocol):
    """The audit record as the answers API reads it (`AuditStore`): an answer by id, whether a
    given asker asked for it, and feedback on it."""

    def get(self, answer_id: str) -> AuditRecord | None: ...

    def asked_by(self, record: AuditRecord, owner: str) -> bool: ...

    def add_feedback(
        self,
        answer_id: str,
        rating: Literal[1, -1],
        comment: str | None = None,
        *,
        principal: Principal | None = None,
    ) -> FeedbackRecord: ...


class SourceAdmin(Protocol):
    """The approved sources, their sync jobs, and starting one (in the background)."""

    def sources(self) -> list[SourceConfig]: ...

    def start_sync(self, source_id: str) -> JobRecord:
        """Start a sync now; raises UnknownSourceError, SourceBusyError, NotReadyError."""

    def jobs(self, *, source_id: str | None = None, limit: int = 50) -> list[JobRecord]: ...

    def job(self, job_id: str) -> JobRecord | None: ...

    def prune(self, *, dry_run: bool = False) -> PruneReport:
        """Remove state rows no indexed chunk uses; raises SourceBusyError, NotReadyError."""


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: Mapping[str, str] = field(default_factory=dict)  # component → "ok" or the reason


class ReadinessProbe(Protocol):
    def readiness(self) -> Readiness: ...


class PolicyAdmin(Protocol):
    """The served access policy: what version is in force, and reloading it now."""

    @property
    def status(self) -> PolicyStatus: ...

    def reload(self) -> bool:
        """True when the version changed; raises `PolicyLoadError` (the last good one stays)."""
