"""The reading model's training utilities on small data made here (no training runs in tests)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evals.reader_training.clapnq_auc import QuestionScores, report
from evals.reader_training.clapnq_train import CLAPNQ_TRAIN_FILE, clapnq_train_pairs
from evals.reader_training.data import TRAINING_FILES, Pair, file_digests, load_pairs
from evals.reader_training.train import _batches, auc


def test_auc_matches_the_pairwise_definition() -> None:
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    # One tie between a positive and a negative counts half: pairs (p, n) = 4, wins 3.5.
    assert auc([0, 1, 0, 1], [0.1, 0.5, 0.5, 0.9]) == pytest.approx(0.875)
    labels = [1, 0, 1, 0, 1, 1, 0]
    scores = [0.3, 0.4, 0.9, 0.1, 0.4, 0.7, 0.8]
    wins = sum(
        (1.0 if sp > sn else 0.5 if sp == sn else 0.0)
        for sp, yp in zip(scores, labels, strict=True)
        if yp == 1
        for sn, yn in zip(scores, labels, strict=True)
        if yn == 0
    )
    assert auc(labels, scores) == pytest.approx(wins / (4 * 3))


def _write(folder: Path, name: str, rows: list[dict[str, object]]) -> None:
    with gzip.open(folder / name, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def _row(i: int, split: str, label: int) -> dict[str, object]:
    return {
        "question": f"q{i}",
        "text": f"text {i}",
        "label": label,
        "split": split,
        "source": "test",
        "granularity": "sentence",
    }


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    for name in TRAINING_FILES:
        rows = [_row(i, "train", i % 2) for i in range(10_000 if "same_article" in name else 20)]
        rows += [_row(i, "val", 0) for i in range(3)]
        _write(tmp_path, name, rows)
    return tmp_path


def test_load_pairs_keeps_splits_apart_caps_easy_negatives_and_is_seeded(data_dir: Path) -> None:
    train = load_pairs(data_dir, "train", seed=1)
    capped = TRAINING_FILES["same_article_negatives.jsonl.gz"]
    assert capped is not None
    assert len(train) == 20 * (len(TRAINING_FILES) - 1) + capped
    assert len(load_pairs(data_dir, "val", seed=1)) == 3 * len(TRAINING_FILES)
    assert load_pairs(data_dir, "train", seed=1) == train
    assert load_pairs(data_dir, "train", seed=2) != train
    assert len(file_digests(data_dir)) == len(TRAINING_FILES)


def test_missing_training_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="reader training data missing"):
        load_pairs(tmp_path, "train", seed=1)


def test_batches_cover_every_pair_once_in_a_seeded_order() -> None:
    pairs = [Pair(f"q{i}", "x" * (i % 37), i % 2, "s", "sentence") for i in range(1000)]
    batches = _batches(pairs, 32, seed=7, epoch=0)
    flat = [p for batch in batches for p in batch]
    assert sorted(flat, key=lambda p: p.question) == sorted(pairs, key=lambda p: p.question)
    assert all(len(b) <= 32 for b in batches)
    assert _batches(pairs, 32, seed=7, epoch=0) == batches
    assert _batches(pairs, 32, seed=7, epoch=1) != batches


def test_clapnq_report_ranks_each_score() -> None:
    rows = [
        QuestionScores(
            answerable=True, reader_sentence_max=0.9, reader_passage=0.2, cosine_max=0.5
        ),
        QuestionScores(
            answerable=True, reader_sentence_max=0.8, reader_passage=0.1, cosine_max=0.6
        ),
        QuestionScores(
            answerable=False, reader_sentence_max=0.1, reader_passage=0.9, cosine_max=0.7
        ),
        QuestionScores(
            answerable=False, reader_sentence_max=0.2, reader_passage=0.8, cosine_max=0.4
        ),
    ]
    figures = report(rows)
    assert figures["auc_reader_sentence_max"] == 1.0
    assert figures["auc_reader_passage"] == 0.0
    assert figures["auc_cosine_max"] == pytest.approx(0.5)


def test_clapnq_train_pairs_pair_each_answer_with_neighbouring_questions_answers(
    tmp_path: Path,
) -> None:
    """Positives: each question with its own answer (whole, and its sentence closest to the
    question); negatives: the answers of its nearest other questions from other articles, never
    its own or a paraphrase of it; a held-back share of questions, none of them in train."""
    topics = [
        (
            "who sang love the one you're with",
            "Love the One You're With is a song by Stephen "
            "Stills. It was covered by the Isley Brothers.",
        ),
        (
            "who sang how long will i love you",
            "How Long Will I Love You is a song by The Waterboys. Ellie Goulding covered it.",
        ),
        (
            "who wrote the song blue hawaii",
            "Blue Hawaii was written by Leo Robin and Ralph "
            "Rainger. It was sung by Elvis Presley in 1961.",
        ),
        (
            "what is the function of the human brain",
            "The brain is the central organ of the "
            "nervous system. It controls most activities of the body.",
        ),
        (
            "what does the human heart do",
            "The heart pumps blood through the blood vessels. It "
            "beats about 70 times a minute at rest.",
        ),
        (
            "what do the lungs do",
            "The lungs take in oxygen and expel carbon dioxide. They sit "
            "in the chest on either side of the heart.",
        ),
    ] * 2  # two articles per question text: the held-back draw needs a few questions
    rows = [
        {"question": f"{q} ({n})", "text": t, "article": f"a{n}", "label": 1, "split": "train"}
        for n, (q, t) in enumerate(topics)
    ]
    _write(tmp_path, CLAPNQ_TRAIN_FILE, rows)
    train, val = clapnq_train_pairs(tmp_path, seed=3)
    pairs = train + val
    assert val and {p.question for p in val}.isdisjoint({p.question for p in train})
    for row in rows:
        own = [p for p in pairs if p.question == row["question"]]
        positives = [p for p in own if p.label == 1]
        negatives = [p for p in own if p.label == 0]
        assert {p.granularity for p in positives} == {"passage", "sentence"}
        assert any(p.text == row["text"] for p in positives)
        held = any(p.question == row["question"] for p in val)
        # two neighbours (whole answer and closest sentence), drawn from the same split
        assert len(negatives) == 4 or held
        assert all(p.text != row["text"] and p.text not in str(row["text"]) for p in negatives)
    brain = [
        p
        for p in train + val
        if p.question.startswith("what is the function")
        and p.label == 0
        and p.granularity == "passage"
    ]
    assert all("heart" in p.text or "lungs" in p.text or "brain" in p.text for p in brain)
    assert clapnq_train_pairs(tmp_path, seed=3) == (train, val)


def test_clapnq_train_pairs_name_the_missing_file_and_the_way_round_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"extra_clapnq_train.*--clapnq-train-repeat 0"):
        clapnq_train_pairs(tmp_path, seed=1)
