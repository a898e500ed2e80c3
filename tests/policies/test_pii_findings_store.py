"""Findings stored at ingest (SQLite and PostgreSQL) are what later masking uses: the same
masks as a fresh analysis, no NER for a stored segment, and never findings made under other
redaction settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from presidio_analyzer import RecognizerResult
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from policies.pii_settings import RedactionSettings
from policies.redaction import PresidioRedactor

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SENTENCES = [
    "Ask Maria Lopez in Lisbon to re-enrol the token; her phone is +1 212 555 0142.",
    "The VPN client reconnects on its own after a network change.",
]


class CountingRedactor(PresidioRedactor):
    """The real redactor, counting the texts its analyzer runs on."""

    analysed: list[str]

    def _analyze(self, text: str) -> list[RecognizerResult]:
        self.analysed.append(text)
        return super()._analyze(text)


def _counting(engine: Engine, settings: RedactionSettings | None = None) -> CountingRedactor:
    CountingRedactor.analysed = []
    redactor = CountingRedactor(settings=settings, findings_engine=engine)
    redactor.analysed.clear()  # the warm-up
    return redactor


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
        yield engine
        engine.dispose()
        return
    schema = f"findings_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    engine = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def test_stored_findings_mask_like_a_fresh_analysis_without_running_ner(engine: Engine) -> None:
    fresh = PresidioRedactor()
    expected = [fresh.mask(s) for s in SENTENCES]
    assert "<PERSON_1>" in expected[0] and "<PHONE_NUMBER_1>" in expected[0]

    ingest = _counting(engine)
    assert ingest.precompute([*SENTENCES, SENTENCES[0], "  "]) == 2  # distinct, non-blank
    assert ingest.precompute(SENTENCES) == 0  # already stored

    serving = _counting(engine)  # another process: an empty in-memory cache
    answer = f"{SENTENCES[0]} [1] {SENTENCES[1]} [2]"
    masked = serving.mask(answer)

    assert serving.analysed == []  # every segment came from the store
    assert [serving.mask(s) for s in SENTENCES] == expected
    assert "Maria" not in masked and "555 0142" not in masked and "[1]" in masked


def test_a_segment_not_stored_is_analysed(engine: Engine) -> None:
    serving = _counting(engine)
    question = "Please reset the password of John Smith."
    assert serving.mask(question) == "Please reset the password of <PERSON_1>."
    assert serving.analysed == [question]


def test_findings_made_under_other_settings_are_never_used(engine: Engine) -> None:
    _counting(engine).precompute(SENTENCES)

    allowing = _counting(engine, RedactionSettings(allow_list=("Maria Lopez",)))
    assert allowing.fingerprint() != PresidioRedactor().fingerprint()
    masked = allowing.mask(SENTENCES[0])

    assert allowing.analysed  # not read from the other settings' rows
    assert "Maria Lopez" in masked and "<PHONE_NUMBER_1>" in masked
