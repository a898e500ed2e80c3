"""Settings of the access policy engine (`PolicySettings`): one slice of the app settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["DEFAULT_MODEL_PATH", "DEFAULT_POLICY_PATH", "PolicySettings"]

_PACKAGED = Path(__file__).resolve().parent / "casbin"
DEFAULT_MODEL_PATH = _PACKAGED / "model.conf"
DEFAULT_POLICY_PATH = _PACKAGED / "policy.csv"


class PolicySettings(BaseModel):
    """Where the Casbin model and policy live, and how often a changed policy is picked up.

    The policy comes from `policy_path` (Casbin's file adapter) unless `database_url` is set, in
    which case it comes from that database (Casbin's SQLAlchemy adapter, table `table_name`).
    """

    model_config = ConfigDict(extra="forbid")

    model_path: Path = Field(
        default=DEFAULT_MODEL_PATH,
        description="Casbin model; must define the same model as the packaged model.conf",
    )
    policy_path: Path = Field(
        default=DEFAULT_POLICY_PATH, description="policy CSV (used when database_url is not set)"
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the policy database (SQLite, PostgreSQL); replaces the file",
    )
    table_name: str = Field(
        default="casbin_rule",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="table of the policy lines in the policy database",
    )
    reload_interval_seconds: float = Field(
        default=30.0,
        ge=0.0,
        description="how often maybe_reload() looks for a changed policy (0: on every call)",
    )
