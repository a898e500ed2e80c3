"""Findings stored at ingest (SQLite and PostgreSQL) are what later masking uses: the same
masks as a fresh analysis, no NER for a stored segment, and never findings made under other
redaction settings."""

from __future__ import annotations

from presidio_analyzer import RecognizerResult
from sqlalchemy import Engine, event

from policies.pii.redaction import PresidioRedactor
from policies.pii.settings import RedactionSettings

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


def test_stored_findings_mask_like_a_fresh_analysis_without_running_ner(sql_engine: Engine) -> None:
    fresh = PresidioRedactor()
    expected = [fresh.mask(s) for s in SENTENCES]
    assert "<PERSON_1>" in expected[0] and "<PHONE_NUMBER_1>" in expected[0]

    ingest = _counting(sql_engine)
    assert ingest.precompute([*SENTENCES, SENTENCES[0], "  "]) == 2  # distinct, non-blank
    assert ingest.precompute(SENTENCES) == 0  # already stored

    serving = _counting(sql_engine)  # another process: an empty in-memory cache
    answer = f"{SENTENCES[0]} [1] {SENTENCES[1]} [2]"
    masked = serving.mask(answer)

    assert serving.analysed == []  # every segment came from the store
    assert [serving.mask(s) for s in SENTENCES] == expected
    assert "Maria" not in masked and "555 0142" not in masked and "[1]" in masked


def test_a_segment_not_stored_is_analysed(sql_engine: Engine) -> None:
    serving = _counting(sql_engine)
    question = "Please reset the password of John Smith."
    assert serving.mask(question) == "Please reset the password of <PERSON_1>."
    assert serving.analysed == [question]


def test_findings_made_under_other_settings_are_never_used(sql_engine: Engine) -> None:
    _counting(sql_engine).precompute(SENTENCES)

    allowing = _counting(sql_engine, RedactionSettings(allow_list=("Maria Lopez",)))
    assert allowing.fingerprint() != PresidioRedactor().fingerprint()
    masked = allowing.mask(SENTENCES[0])

    assert allowing.analysed  # not read from the other settings' rows
    assert "Maria Lopez" in masked and "<PHONE_NUMBER_1>" in masked


def test_prefetch_reads_the_stored_findings_of_many_texts_in_one_query(sql_engine: Engine) -> None:
    _counting(sql_engine).precompute(SENTENCES)
    serving = _counting(sql_engine)
    expected = [PresidioRedactor().mask(s) for s in SENTENCES]
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(sql_engine, "before_cursor_execute", record)
    try:
        serving.prefetch([*SENTENCES, "  "])
        assert len(statements) == 1  # both texts' findings in one query
        assert [serving.mask(s) for s in SENTENCES] == expected
        assert len(statements) == 1  # masking them then queries nothing
    finally:
        event.remove(sql_engine, "before_cursor_execute", record)
    assert serving.analysed == []
