"""PII analysis in worker processes: the same findings as in-process, no spaCy model in the
calling process, a dead worker replaced, a failed start and a closed pool reported clearly.
Real spaCy and Presidio in real processes."""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from spacy.language import Language

from policies.pii.analysis_pool import AnalysisPool, PiiAnalysisError
from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings
from tests.fixtures.pii import labelled_texts, leaked_values

NO_CACHE = {"findings_cache_entries": 0}
# A name only spaCy's NER finds (the patterns engine leaves it: see test_redaction).
NER_ONLY_NAME = "Kenji Watanabe says the new monitor flickers."


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


def _spacy_pipelines() -> int:
    """How many spaCy pipelines (each holding a loaded model) are alive in this process."""
    gc.collect()
    return sum(issubclass(type(o), Language) for o in gc.get_objects())


def test_a_pooled_redactor_masks_without_loading_the_model_in_this_process(
    in_process: PresidioRedactor,
) -> None:
    before = _spacy_pipelines()
    redactor = PresidioRedactor(settings=RedactionSettings(analysis_processes=1, **NO_CACHE))
    try:
        assert redactor.mask(NER_ONLY_NAME) == "<PERSON_1> says the new monitor flickers."
        assert _spacy_pipelines() == before
        assert not redactor.model_loaded
        # What stored findings are keyed by, and what is looked for, must not depend on
        # whether this process has loaded the model.
        assert redactor.fingerprint() == in_process.fingerprint()
        assert redactor.entities == in_process.entities
    finally:
        redactor.close()
    assert in_process.model_loaded


def test_in_process_analysis_on_a_pooled_redactor_loads_the_model_once(
    in_process: PresidioRedactor, pooled: PresidioRedactor
) -> None:
    fingerprint = pooled.fingerprint()
    before = _spacy_pipelines()
    with ThreadPoolExecutor(max_workers=4) as threads:
        found = list(threads.map(pooled.analyse_segment, [NER_ONLY_NAME] * 4))
    assert pooled.model_loaded
    assert _spacy_pipelines() == before + 1
    assert found == [in_process.analyse_segment(NER_ONLY_NAME)] * 4
    assert pooled.fingerprint() == fingerprint


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
