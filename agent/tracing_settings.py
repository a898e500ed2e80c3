"""Settings of request tracing (`TracingSettings`) and `build_tracer`: Langfuse when keys are
set, else a local masked JSONL file when a path is set, else off (`NoopTracer`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from agent.tracing_port import NoopTracer

if TYPE_CHECKING:
    from agent.masking import PiiGuard
    from agent.masking_worker import MaskingWorker
    from agent.tracing_jsonl import JsonlTracer
    from agent.tracing_langfuse import LangfuseTracer

__all__ = ["TracingBackend", "TracingSettings", "build_tracer"]

TracingBackend = Literal["langfuse", "jsonl", "off"]


class TracingSettings(BaseModel):
    """How requests are traced. Everything sent is masked first, whichever backend."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    langfuse_public_key: SecretStr | None = Field(
        default=None, description="Langfuse public key; tracing to Langfuse needs both keys"
    )
    langfuse_secret_key: SecretStr | None = Field(default=None, description="Langfuse secret key")
    langfuse_host: str = Field(
        default="https://cloud.langfuse.com",
        description="Langfuse base URL (self-hosted: your server's URL)",
    )
    export_timeout_seconds: int = Field(
        default=5, ge=1, le=60, description="Timeout of one export request (background thread)"
    )
    flush_interval_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Spans are sent in batches at least this often"
    )
    flush_timeout_seconds: float = Field(
        default=5.0, gt=0, le=120, description="Longest wait for pending spans at shutdown"
    )
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0, description="Share of traces kept")
    jsonl_path: Path | None = Field(
        default=None, description="Without Langfuse keys: write masked spans to this JSONL file"
    )
    environment: str = Field(
        default="development",
        pattern=r"^[a-z0-9_-]{1,40}$",
        description="Langfuse environment (lowercase, no 'langfuse' prefix)",
    )
    release: str | None = Field(default=None, max_length=200, description="Release / version")

    @field_validator("environment")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.startswith("langfuse"):
            raise ValueError("environment must not start with 'langfuse' (reserved)")
        return value

    @model_validator(mode="after")
    def _keys_in_pairs(self) -> TracingSettings:
        public = _present(self.langfuse_public_key)
        secret = _present(self.langfuse_secret_key)
        if public != secret:
            raise ValueError("set both langfuse_public_key and langfuse_secret_key, or neither")
        return self

    @property
    def backend(self) -> TracingBackend:
        """Which tracer `build_tracer` makes from these settings."""
        if _present(self.langfuse_public_key):
            return "langfuse"
        if self.jsonl_path is not None:
            return "jsonl"
        return "off"


def _present(value: SecretStr | None) -> bool:
    return value is not None and bool(value.get_secret_value().strip())


def build_tracer(
    settings: TracingSettings, *, guard: PiiGuard, worker: MaskingWorker | None = None
) -> LangfuseTracer | JsonlTracer | NoopTracer:
    """The tracer these settings ask for: Langfuse with keys, JSONL with a path, else the
    `NoopTracer` (no SDK client is created, nothing is logged per request). The Langfuse SDK
    is imported only when keys are set."""
    backend = settings.backend
    if backend == "langfuse":
        from agent.tracing_langfuse import LangfuseTracer

        return LangfuseTracer(settings=settings, guard=guard, worker=worker)
    if backend == "jsonl" and settings.jsonl_path is not None:
        from agent.tracing_jsonl import JsonlTracer

        return JsonlTracer(path=settings.jsonl_path, guard=guard, worker=worker)
    return NoopTracer()
