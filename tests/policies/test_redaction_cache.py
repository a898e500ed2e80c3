"""The findings cache of `PresidioRedactor`: transparent (same findings, same placeholders as
without it), bounded, holding no raw text, and reused per cited sentence of an answer."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from policies.pii.masking_session import MaskingSession
from policies.pii.redaction import PresidioRedactor
from policies.pii.segments import citation_segments
from policies.pii.settings import RedactionSettings
from policies.pii.types import PiiFinding

SAMPLE = Path(__file__).parent / "data" / "pii_sample.json"
ROWS = json.loads(SAMPLE.read_text(encoding="utf-8"))
TEXTS: list[str] = [row["full_text"] for row in ROWS]
VALUES: list[str] = [span["entity_value"] for row in ROWS for span in row["spans"]]


@pytest.fixture(scope="module")
def cached() -> PresidioRedactor:
    return PresidioRedactor()


@pytest.fixture(scope="module")
def uncached() -> PresidioRedactor:
    return PresidioRedactor(settings=RedactionSettings(findings_cache_entries=0))


def _patterns(**overrides: int) -> PresidioRedactor:
    return PresidioRedactor(settings=RedactionSettings(engine="patterns", **overrides))


def test_cached_findings_equal_uncached_ones_cold_and_warm(
    cached: PresidioRedactor, uncached: PresidioRedactor
) -> None:
    expected = [uncached.find(text) for text in TEXTS]
    cold = [cached.find(text) for text in TEXTS]
    before = cached.cache_info()
    warm = [cached.find(text) for text in TEXTS]
    after = cached.cache_info()

    assert cold == expected
    assert warm == expected
    assert after.hits - before.hits == len(TEXTS)
    assert after.misses == before.misses
    assert uncached.cache_info().entries == 0


def test_placeholders_stay_per_session_when_findings_come_from_the_cache(
    cached: PresidioRedactor,
) -> None:
    text = "Maria Gonzalez (maria.gonzalez@contoso.com) asked about Priya Raman's laptop."
    one, two = MaskingSession(), MaskingSession()
    cached.mask("Priya Raman called.", session=one)
    first = cached.mask(text, session=one)
    second = cached.mask(text, session=two)  # every finding now comes from the cache

    assert "<PERSON_2>" in first  # Priya Raman is <PERSON_1> in session one
    assert "<PERSON_1>" in second and "<PERSON_3>" not in second
    assert cached.mask(text, session=two) == second
    for value in ("Maria", "Gonzalez", "Priya", "Raman", "contoso"):
        assert value not in first and value not in second


def test_the_cache_holds_digests_and_spans_never_text(cached: PresidioRedactor) -> None:
    for text in TEXTS:
        cached.find(text)
    entries = list(cached._cache._entries.items())  # white box: what exactly is kept

    assert entries
    for key, (findings, chars) in entries:
        assert isinstance(key, bytes) and len(key) == 32
        assert all(type(f) is PiiFinding for f in findings)
        assert isinstance(chars, int)
    dump = repr(entries)
    assert [v for v in VALUES if v in dump] == []
    assert cached._cache.key(TEXTS[0]) != _patterns()._cache.key(TEXTS[0])  # salted


def test_answer_sentences_are_cached_one_by_one_with_offsets_kept(
    cached: PresidioRedactor, uncached: PresidioRedactor
) -> None:
    s1 = "Kenji Watanabe owns the VPN gateway."
    s2 = "Reset tokens from the self-service portal."
    s3 = "Mail kenji.watanabe@contoso.example for a new one."
    answer = f"{s1} [1] {s2} [2]"
    cached.find(s1)
    cached.find(s2)
    before = cached.cache_info()
    findings = cached.find(answer)
    after = cached.cache_info()

    assert (after.hits - before.hits, after.misses - before.misses) == (2, 0)
    assert findings == uncached.find(answer)
    assert {answer[f.start : f.end] for f in findings} >= {"Kenji Watanabe"}

    again = f"{s3} [1] {s1} [2]"  # another answer citing a sentence seen before
    before = cached.cache_info()
    masked = cached.mask(again)
    after = cached.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 1)
    assert (
        masked == "Mail <EMAIL_ADDRESS_1> for a new one. [1] <PERSON_1> owns the VPN gateway. [2]"
    )


def test_a_name_is_masked_across_cited_sentences(cached: PresidioRedactor) -> None:
    """Each cited sentence is analysed alone; a name found in one is then looked for in the
    whole answer, so a surname alone in another sentence does not escape."""
    alone = "Watanabe resets tokens on request."
    assert cached.find(alone) == []  # the model misses it without the full name
    session = MaskingSession()
    masked = cached.mask(f"Kenji Watanabe owns the VPN gateway. [1] {alone} [2]", session=session)

    assert "Watanabe" not in masked
    assert masked.endswith("<PERSON_2> resets tokens on request. [2]")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("One [1] two [2]", ["One", "two"]),
        ("One. [1][3] Two, [2].", ["One.", "Two,"]),
        ("One [1, 2]. Two [3]", ["One", "Two"]),
        ("  padded  ", ["padded"]),
        ("Use pass[1] now", ["Use pass[1] now"]),
        ("Call Jane Doe. [1]\nThen Bob [2]", ["Call Jane Doe.", "Then Bob"]),
        ("[1] [2]", []),
    ],
)
def test_citation_seams(text: str, parts: list[str]) -> None:
    assert [text[s:e] for s, e in citation_segments(text)] == parts


def test_the_cache_is_bounded_by_entries_and_least_recently_used_goes() -> None:
    redactor = _patterns(findings_cache_entries=3)
    texts = [f"Write to user{i}@contoso.example." for i in range(4)]
    for text in texts[:3]:
        redactor.find(text)
    redactor.find(texts[0])  # now the most recently used
    redactor.find(texts[3])  # evicts texts[1]
    before = redactor.cache_info()
    redactor.find(texts[0])
    redactor.find(texts[1])
    after = redactor.cache_info()

    assert after.entries == 3
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 1)


def test_the_cache_is_bounded_by_the_length_of_the_texts_it_covers() -> None:
    redactor = _patterns(findings_cache_chars=800)
    short = [f"Call +1 415 555 {1000 + i:04d} today." for i in range(30)]
    for text in short:
        redactor.find(text)
    redactor.find("x" * 101 + " admin@contoso.example")  # longer than 800 // 8: never kept
    info = redactor.cache_info()

    assert info.chars <= 800
    assert info.entries == 800 // len(short[0])


def test_zero_disables_the_cache() -> None:
    redactor = _patterns(findings_cache_entries=0)
    text = "Mail priya@northwind.example."
    assert redactor.mask(text) == redactor.mask(text) == "Mail <EMAIL_ADDRESS_1>."
    assert redactor.cache_info().entries == 0
    assert redactor.cache_info().hits == 0


def test_concurrent_use_of_the_cache_matches_sequential(
    cached: PresidioRedactor, uncached: PresidioRedactor
) -> None:
    texts = TEXTS * 3
    expected = [uncached.mask(text) for text in texts]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(cached.mask, texts)) == expected


@pytest.mark.parametrize("bad", [{"findings_cache_entries": -1}, {"findings_cache_chars": -5}])
def test_cache_settings_are_validated(bad: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        RedactionSettings.model_validate(bad)
