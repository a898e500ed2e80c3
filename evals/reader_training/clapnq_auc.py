"""How well a score tells CLAP NQ's answerable questions from its unanswerable ones.

Each dev question comes with one passage (answerable: it holds the answer; unanswerable: it
is on topic and does not). A score per question - the reader's best sentence, the reader on
the whole passage, the embedding model's best sentence cosine - is judged by the area under
the ROC curve of answerable against unanswerable. This is the figure issue 17 compares the
reader with (the cosine's 0.88). Reports only: nothing is tuned on these rows here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.reader_training.train import auc

__all__ = ["QuestionScores", "clapnq_scores", "load_clapnq", "report"]

Scorer = Callable[[str, Sequence[str]], Sequence[float]]


@dataclass(frozen=True)
class ClapQuestion:
    question: str
    sentences: list[str]
    passage: str
    answerable: bool


@dataclass(frozen=True)
class QuestionScores:
    answerable: bool
    reader_sentence_max: float
    reader_passage: float
    cosine_max: float


def load_clapnq(data_dir: Path) -> list[ClapQuestion]:
    out: list[ClapQuestion] = []
    for name, answerable in (("answerable.jsonl", True), ("unanswerable.jsonl", False)):
        with (data_dir / "clapnq" / name).open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                passage = row["passages"][0]
                sentences = [s for s in passage.get("sentences", []) if s.strip()]
                out.append(
                    ClapQuestion(
                        question=row["input"],
                        sentences=sentences or [passage["text"]],
                        passage=passage["text"],
                        answerable=answerable,
                    )
                )
    return out


def clapnq_scores(
    questions: Sequence[ClapQuestion],
    *,
    sentence_scores: Scorer,
    passage_scores: Scorer,
    cosines: Scorer,
) -> list[QuestionScores]:
    rows: list[QuestionScores] = []
    for q in questions:
        rows.append(
            QuestionScores(
                answerable=q.answerable,
                reader_sentence_max=float(max(sentence_scores(q.question, q.sentences))),
                reader_passage=float(passage_scores(q.question, [q.passage])[0]),
                cosine_max=float(max(cosines(q.question, q.sentences))),
            )
        )
    return rows


def _z(values: np.ndarray) -> np.ndarray:
    centred: np.ndarray = (values - values.mean()) / max(1e-9, float(values.std()))
    return centred


def report(rows: Sequence[QuestionScores]) -> dict[str, float]:
    labels = [int(r.answerable) for r in rows]

    def ranks(values: Sequence[float]) -> np.ndarray:
        return np.argsort(np.argsort(np.asarray(values))) / max(1, len(values) - 1)

    sentence = [r.reader_sentence_max for r in rows]
    passage = [r.reader_passage for r in rows]
    cosine = [r.cosine_max for r in rows]
    mean_rank = (ranks(sentence) + ranks(cosine)) / 2
    logits = np.log(np.clip(sentence, 1e-6, 1 - 1e-6) / np.clip(1 - np.asarray(sentence), 1e-6, 1))
    sweep = {
        f"auc_cosine_plus_{weight:g}_reader_logit": auc(
            labels, list(_z(np.asarray(cosine)) + weight * _z(logits))
        )
        for weight in (0.25, 0.5, 1.0)
    }
    return {
        **sweep,
        "auc_cosine_max": auc(labels, cosine),
        "auc_reader_sentence_max": auc(labels, sentence),
        "auc_reader_passage": auc(labels, passage),
        "auc_reader_sentence_plus_passage": auc(
            labels, list((ranks(sentence) + ranks(passage)) / 2)
        ),
        "auc_reader_sentence_plus_cosine_rank_mean": auc(labels, list(mean_rank)),
    }
