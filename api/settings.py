"""Application settings: one nested model per package, from env (`PROOFDESK_…`) and YAML.

Built once, at the composition root (the CLI command or `create_app`), never at import time.
Environment variables use `__` for nesting, e.g. `PROOFDESK_STORE__BACKEND=server`.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from agent.audit.store import AuditSettings
from agent.llm.settings import AnswerCacheSettings, LLMSettings
from agent.review.types import ReviewSettings
from agent.settings import AgentSettings
from agent.tracing.settings import TracingSettings
from api.api_settings import ApiSettings
from api.logging_setup import LoggingSettings
from infra.errors import ConfigurationError
from ingest.settings import IngestSettings
from policies.access.settings import PolicySettings
from policies.pii.settings import RedactionSettings
from retrieval.embedding.embedder import EmbeddingSettings
from retrieval.reading import ReaderSettings
from retrieval.service import RetrievalSettings
from retrieval.store_factory import EdgeStoreSettings, StoreSettings

__all__ = ["CONFIG_ENV", "Settings", "load_settings"]

CONFIG_ENV = "PROOFDESK_CONFIG"
_config_file: ContextVar[str | None] = ContextVar("proofdesk_config_file", default=None)
DEFAULT_CONFIG_FILE = Path("proofdesk.yaml")  # read from the working directory when present


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PROOFDESK_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    environment: str = Field(default="development", description="development | production")
    log_level: str = "INFO"
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    store: StoreSettings = Field(default_factory=EdgeStoreSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    answer_cache: AnswerCacheSettings = Field(default_factory=AnswerCacheSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    reader: ReaderSettings = Field(default_factory=ReaderSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @model_validator(mode="after")
    def _secure_in_production(self) -> Settings:
        # Refuses placeholder or short secrets, "*" CORS and the like outside development.
        self.api.check_for(self.environment)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments > environment > YAML file > defaults.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file.get() or os.environ.get(CONFIG_ENV)
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=Path(config_file)))
        return tuple(sources)


class ConfigFileError(ConfigurationError, ValueError):
    """The YAML settings file named by the user is missing."""


def load_settings(config_file: Path | None = None) -> Settings:
    """Settings from the environment and a YAML file: the argument, else PROOFDESK_CONFIG, else
    ./proofdesk.yaml when it exists."""
    chosen: Path | None = None
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigFileError(f"settings file not found: {config_file}")
        chosen = config_file
    elif named := os.environ.get(CONFIG_ENV):
        if not Path(named).is_file():
            raise ConfigFileError(f"settings file not found: {named} (from {CONFIG_ENV})")
        chosen = Path(named)
    elif DEFAULT_CONFIG_FILE.is_file():
        chosen = DEFAULT_CONFIG_FILE
    # Handed to `settings_customise_sources` for this construction only: the process
    # environment is never written (a later load, or a test, sees it unchanged).
    token = _config_file.set(str(chosen) if chosen is not None else "")
    try:
        return Settings()
    finally:
        _config_file.reset(token)
