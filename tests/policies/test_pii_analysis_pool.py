"""PII analysis in worker processes: the same findings as in-process, a dead worker replaced,
a failed start and a closed pool reported clearly. Real spaCy and Presidio in real processes."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies.pii_analysis_pool import AnalysisPool, PiiAnalysisError
from policies.pii_settings import RedactionSettings
from policies.redaction import PresidioRedactor
from tests.agent.pii_fixtures import labelled_texts, leaked_values

NO_CACHE = {"findings_cache_entries": 0}


@pytest.fixture(scope="module")
def in_process() -> PresidioRedactor:
    return PresidioRedactor(settings=RedactionSettings(**NO_CACHE))


@pytest.fixture(scope="module")
def pooled() -> Iterator[PresidioRedactor]:
    redactor = PresidioRedactor(settings=RedactionSettings(analysis_processes=1, **NO_CACHE))
    yield redactor
    redactor.close()


def test_findings_in_a_worker_equal_the_in_process_ones(
    in_process: PresidioRedactor, pooled: PresidioRedactor
) -> None:
    # Stored findings are keyed by the fingerprint: where analysis runs must not change it.
    assert pooled.fingerprint() == in_process.fingerprint()
    for sample in labelled_texts():
        assert pooled.find(sample.text) == in_process.find(sample.text)
        assert leaked_values(pooled.mask(sample.text), sample.values) == []


def test_a_dead_worker_is_replaced_and_nothing_is_lost(pooled: PresidioRedactor) -> None:
    pool = pooled._pool
    assert pool is not None
    [before] = pool.pids
    assert before != os.getpid()
    os.kill(before, signal.SIGKILL)
    text = "Please call Maria Gonzalez on +1 212 555 0199 about ticket INC-123456."
    masked = pooled.mask(text)
    assert leaked_values(masked, ["Maria Gonzalez", "555 0199", "INC-123456"]) == []
    [after] = pool.pids
    assert after != before


def test_a_worker_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    broken = RedactionSettings(spacy_model_path=tmp_path / "no-such-model")
    with pytest.raises(PiiAnalysisError, match="failed to start"):
        AnalysisPool(settings=broken, processes=1)


def test_a_closed_pool_refuses_instead_of_passing_text_unmasked() -> None:
    redactor = PresidioRedactor(settings=RedactionSettings(engine="patterns", analysis_processes=1))
    pool = redactor._pool
    assert pool is not None
    [pid] = pool.pids
    redactor.close()
    redactor.close()  # twice is fine
    with pytest.raises(PiiAnalysisError, match="closed"):
        redactor.mask("Write to jane.doe@example.com")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the worker has exited and been reaped
