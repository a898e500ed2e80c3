"""Settings of request tracing (`TracingSettings`). The tracer they ask for is built by
`agent.tracing.build.build_tracer`; this module imports no tracer, so the adapters can import it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["TracingBackend", "TracingSettings"]

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
