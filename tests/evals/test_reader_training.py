"""The reading model's training utilities on small data made here (no training runs in tests)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evals.reader_training.clapnq_auc import QuestionScores, report
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
