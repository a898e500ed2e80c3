"""Every cron setting (a source's schedule, the state prune's, the retention job's) is checked
when the settings load: a typo is an error at start, not a scheduler that never fires."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from agent.audit.store import AuditSettings
from ingest.settings import IngestSettings
from ingest.sources import FilesystemSource

Build = Callable[[str | None], BaseModel]

BUILDERS: dict[str, Build] = {
    "source schedule": lambda v: FilesystemSource(
        id="it-kb", kind="filesystem", root=Path("/srv/kb"), read=["public"], schedule=v
    ),
    "ingest.prune_schedule": lambda v: IngestSettings(prune_schedule=v),
    "audit.retention_schedule": lambda v: AuditSettings(retention_schedule=v),
}


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_a_bad_cron_is_refused_and_a_good_one_or_none_is_kept(build: Build) -> None:
    with pytest.raises(ValidationError, match="invalid cron expression 'every night'"):
        build("every night")
    assert "30 3 * * 1-5" in build("30 3 * * 1-5").model_dump().values()
    assert None in build(None).model_dump().values()
