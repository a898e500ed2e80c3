"""Request and response bodies of the Proofdesk API (`XRequest` / `XResponse`), with examples."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from agent.audit.models import FeedbackRecord
from agent.screening import CONVERSATION_ID_PATTERN
from agent.types import Answer, AnswerStatus, Citation
from ingest.documents import DocType
from ingest.jobs import JobRecord
from ingest.sources import SourceConfig, SourceId
from ingest.state_prune import PruneReport

__all__ = [
    "AnswerRecordResponse",
    "ChatRequest",
    "ChatResponse",
    "CitationOut",
    "ConversationId",
    "FeedbackRequest",
    "FeedbackResponse",
    "HealthResponse",
    "JobResponse",
    "JobsResponse",
    "PassageOut",
    "PolicyReloadResponse",
    "PruneResponse",
    "ReadinessResponse",
    "SearchRequest",
    "SearchResponse",
    "SourceResponse",
    "SourcesResponse",
]

ConversationId = Annotated[str, Field(pattern=CONVERSATION_ID_PATTERN)]

_CITATION_EXAMPLE: dict[str, JsonValue] = {
    "marker": 1,
    "document_id": "it-kb:vpn/setup.md",
    "title": "VPN setup",
    "source_id": "it-kb",
    "uri": "file:///kb/it/vpn/setup.md",
    "chunk_id": "5f0c7a1e-3b1d-5c59-9a57-0d0c1b2a3e4f",
    "quote": "Install the GlobalConnect client from the Software Center.",
    "start": 120,
    "end": 178,
    "support": 0.91,
    "document_version": "3f2a…",
}
_ANSWER_EXAMPLE: dict[str, JsonValue] = {
    "answer_id": "a1b2c3d4e5f6",
    "status": "answered",
    "answer": "Install the GlobalConnect client from the Software Center [1].",
    "citations": [_CITATION_EXAMPLE],
    "conversation_id": "c-7f9e",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "handoff_summary": None,
    "composer": "extractive",
    "policy_version": "9c1e…",
    "index_version": "20260101T000000.000000Z",
    "flags": [],
}


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": "How do I set up the VPN client?"},
                {"question": "And on a Mac?", "conversation_id": "c-7f9e"},
            ]
        },
    )

    # Not `min_length`: an empty or blank question is one error, `empty_question`, either way.
    question: str = Field(description="the helpdesk question (not empty; length-limited)")
    conversation_id: ConversationId | None = Field(
        default=None, description="continue a conversation (from a previous answer)"
    )


class CitationOut(BaseModel):
    """A citation of an answer, read from the domain's `Citation` field by field."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_CITATION_EXAMPLE]}
    )

    marker: int = Field(description="the [n] in the answer text")
    document_id: str
    title: str
    source_id: str
    uri: str
    chunk_id: str
    quote: str = Field(description="the exact passage the sentence rests on")
    start: int = Field(description="character offset of the quote in the document")
    end: int
    support: float = Field(description="0..1, from citation verification")
    document_version: str = ""

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        return cls.model_validate(citation)


class ChatResponse(BaseModel):
    """An answer as the chat returns it, read from the domain's `Answer` (its citations too)."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_ANSWER_EXAMPLE]}
    )

    answer_id: str
    status: AnswerStatus = Field(description="answered, refused_…, or escalated to a person")
    answer: str = Field(description="text with [n] markers, or the refusal / hand-off text")
    citations: list[CitationOut]
    conversation_id: str
    trace_id: str | None = None
    handoff_summary: str | None = Field(default=None, description="for a human agent")
    composer: str
    policy_version: str
    index_version: str
    flags: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, answer: Answer) -> ChatResponse:
        return cls.model_validate(answer)


class AnswerRecordResponse(ChatResponse):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_ANSWER_EXAMPLE,
                    "question": "How do I set up the VPN client?",
                    "asked_at": "2026-01-01T12:00:00Z",
                }
            ]
        }
    )

    question: str
    asked_at: datetime

    @classmethod
    def of_answer(cls, answer: Answer, *, asked_at: datetime) -> AnswerRecordResponse:
        """`answer` (as recorded, its question included), asked at `asked_at`."""
        return cls(**dict(ChatResponse.of(answer)), question=answer.question, asked_at=asked_at)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"rating": -1, "comment": "The VPN link is outdated."}]},
    )

    rating: Literal[1, -1] = Field(description="+1 helpful, -1 not helpful")
    comment: str | None = Field(default=None, max_length=2000)


class FeedbackResponse(BaseModel):
    """Feedback as recorded (the comment masked), read from the audit record's entry."""

    model_config = ConfigDict(from_attributes=True)

    feedback_id: str
    answer_id: str
    rating: Literal[1, -1]
    comment: str | None
    created_at: datetime

    @classmethod
    def of(cls, feedback: FeedbackRecord) -> FeedbackResponse:
        return cls.model_validate(feedback)


class SourceResponse(BaseModel):
    id: str
    kind: str
    description: str
    enabled: bool
    schedule: str | None

    @classmethod
    def of(cls, source: SourceConfig) -> SourceResponse:
        return cls(
            id=source.id,
            kind=source.kind,
            description=source.description,
            enabled=source.enabled,
            schedule=source.schedule,
        )


class SourcesResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sources": [
                        {
                            "id": "it-kb",
                            "kind": "filesystem",
                            "description": "IT knowledge base",
                            "enabled": True,
                            "schedule": "0 * * * *",
                        }
                    ]
                }
            ]
        }
    )

    sources: list[SourceResponse]


class JobResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "0b6f6a8e-1f0e-4c1a-9a3b-8c2d1e0f9a7b",
                    "source_id": "it-kb",
                    "trigger": "api",
                    "status": "succeeded",
                    "started_at": "2026-01-01T12:00:00Z",
                    "finished_at": "2026-01-01T12:00:04Z",
                    "report": {"added": 3, "updated": 1, "deleted": 0},
                    "error": None,
                }
            ]
        }
    )

    job_id: str
    source_id: str
    trigger: str
    status: str = Field(description="running, succeeded, partial, failed or abandoned")
    started_at: datetime
    finished_at: datetime | None
    report: dict[str, Any] | None
    error: str | None

    @classmethod
    def of(cls, job: JobRecord) -> JobResponse:
        return cls(
            job_id=job.job_id,
            source_id=job.source_id,
            trigger=job.trigger,
            status=job.status,
            started_at=job.started_at,
            finished_at=job.finished_at,
            report=job.report,
            error=job.error,
        )


class JobsResponse(BaseModel):
    jobs: list[JobResponse]


class PruneTableOut(BaseModel):
    kept: int
    removed: int = Field(description="rows removed (in a dry run: that would be removed)")


class PruneResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dry_run": False,
                    "chunks": 1200,
                    "removed": 310,
                    "tables": {
                        "embedding_cache": {"kept": 1200, "removed": 40},
                        "sentence_vectors": {"kept": 1200, "removed": 40},
                        "sentence_screens": {"kept": 1200, "removed": 40},
                        "pii_findings": {"kept": 9800, "removed": 190},
                    },
                    "seconds": 0.8,
                }
            ]
        }
    )

    dry_run: bool
    chunks: int = Field(description="chunks in the index (their rows are kept)")
    removed: int
    tables: dict[str, PruneTableOut]
    seconds: float

    @classmethod
    def of(cls, report: PruneReport) -> PruneResponse:
        return cls(
            dry_run=report.dry_run,
            chunks=report.chunks,
            removed=report.removed,
            tables={
                name: PruneTableOut(kept=count.kept, removed=count.removed)
                for name, count in report.tables.items()
            },
            seconds=round(report.seconds, 3),
        )


class PolicyReloadResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "9c1e…",
                    "rules": 42,
                    "changed": True,
                    "loaded_at": "2026-01-01T12:00:00Z",
                }
            ]
        }
    )

    version: str = Field(description="the version of the policy now in force")
    rules: int = Field(description="its number of policy lines")
    changed: bool = Field(description="whether this reload changed the version")
    loaded_at: datetime


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class ReadinessResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "ready", "checks": {"store": "ok", "model": "ok"}}]
        }
    )

    status: Literal["ready"] = "ready"
    checks: dict[str, str]


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": "VPN client on a Mac", "top_k": 5},
                {"query": "salary bands", "source": ["hr-kb"], "type": ["pdf", "md"]},
            ]
        },
    )

    # Not `min_length`: an empty or blank query is one error, `empty_query`, either way.
    query: str = Field(description="what to search for (not empty; length-limited)")
    top_k: int | None = Field(
        default=None, ge=1, le=100, description="passages wanted (default: the configured top_k)"
    )
    source: list[SourceId] | None = Field(
        default=None, max_length=64, description="only these sources (ids; unknown ones refused)"
    )
    type: list[DocType] | None = Field(
        default=None, max_length=5, description="only these document types"
    )
    mode: Literal["hybrid", "dense", "sparse"] | None = Field(
        default=None, description="retrieval channels (default: the configured mode)"
    )


class PassageOut(BaseModel):
    rank: int = Field(description="1 for the best passage")
    score: float = Field(description="the retrieval score (fused, for hybrid)")
    chunk_id: str
    document_id: str
    source_id: str
    title: str
    heading_path: list[str] = Field(description="the headings above the passage")
    uri: str
    doc_type: str
    text: str = Field(description="the passage as indexed (the asker may read it)")
    allowed_by: list[str] = Field(
        description="which of the asker's principals the document's access list admits"
    )


class SearchResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "policy_version": "9c1e…",
                    "passages": [
                        {
                            "rank": 1,
                            "score": 0.0312,
                            "chunk_id": "5f0c7a1e-3b1d-5c59-9a57-0d0c1b2a3e4f",
                            "document_id": "it-kb:vpn/setup.md",
                            "source_id": "it-kb",
                            "title": "VPN setup",
                            "heading_path": ["VPN setup", "macOS"],
                            "uri": "file:///kb/it/vpn/setup.md",
                            "doc_type": "md",
                            "text": "Install the GlobalConnect client from the Software Center.",
                            "allowed_by": ["group:all-staff"],
                        }
                    ],
                }
            ]
        }
    )

    policy_version: str = Field(description="the access policy version the search ran under")
    passages: list[PassageOut]
