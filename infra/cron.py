"""Cron expressions in settings, checked when the settings load (not when a scheduler first
reads them): source schedules, the state prune's and the retention job's."""

from __future__ import annotations

from typing import Annotated

from croniter import croniter
from pydantic import AfterValidator

__all__ = ["CronExpression"]


def _valid_cron(value: str) -> str:
    if not croniter.is_valid(value):
        raise ValueError(f"invalid cron expression {value!r}")
    return value


CronExpression = Annotated[str, AfterValidator(_valid_cron)]
