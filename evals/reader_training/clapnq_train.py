"""In-domain pairs from CLAP NQ **train** (`extra_clapnq_train_positives.jsonl.gz`).

The SQuAD/COVID-QA reader learned its task (val AUC 0.94) but did not transfer to CLAP NQ's
search-style, often non-factoid questions (dev AUC 0.75 against the cosine's 0.88). The data
README offers CLAP NQ's *train* answers as extra positives: a question and the text an annotator
wrote (mostly copied) from its passage. This module turns them into pairs:

- positives: (question, its whole answer) at passage length, and (question, the answer's
  sentence closest to the question) at sentence length;
- on-topic negatives: for each question, the answers of its nearest *other* questions (by the
  bundled embedding model, cosine below `PARAPHRASE_COSINE` so that a paraphrase is not taken
  for a negative, and from another article): a text on a neighbouring topic that answers a
  different question - the "on topic but does not state it" case the decision must refuse.

A tenth of the questions (by a seeded draw) is held back as this source's validation split.
CLAP NQ *dev* (the set the project reports on) is never read here.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from evals.reader_training.data import Pair

__all__ = ["CLAPNQ_TRAIN_FILE", "clapnq_train_pairs"]

CLAPNQ_TRAIN_FILE = "extra_clapnq_train_positives.jsonl.gz"
PARAPHRASE_COSINE = 0.85
NEIGHBOURS = 2
VAL_SHARE = 0.1
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_SOURCE = "clapnq-train"


@dataclass(frozen=True)
class _Answer:
    question: str
    text: str
    article: str
    sentences: tuple[str, ...]


def _load(path: Path) -> list[_Answer]:
    out: list[_Answer] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            text = " ".join(str(row["text"]).split())
            sentences = tuple(s for s in _SENTENCE_END.split(text) if len(s) > 20) or (text,)
            out.append(_Answer(str(row["question"]), text, str(row["article"]), sentences))
    return out


def _unit(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norms: npt.NDArray[np.float64] = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-9)


def clapnq_train_pairs(data_dir: Path, *, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, val) pairs built from CLAP NQ train answers, as the module docstring says."""
    from retrieval.embedding.embedder import load_embedder

    path = data_dir / CLAPNQ_TRAIN_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"reader training data missing: {path} (train without it: --clapnq-train-repeat 0)"
        )
    answers = _load(path)
    embedder = load_embedder()
    questions = _unit(
        np.asarray(embedder.embed_documents([a.question for a in answers]), dtype=np.float64)
    )
    flat = [(i, s) for i, a in enumerate(answers) for s in a.sentences]
    sentence_vectors = _unit(
        np.asarray(embedder.embed_documents([s for _, s in flat]), dtype=np.float64)
    )
    by_answer: dict[int, list[int]] = {}
    for row, (i, _) in enumerate(flat):
        by_answer.setdefault(i, []).append(row)

    def closest_sentence(question_row: int, answer_index: int) -> str:
        rows = by_answer[answer_index]
        sims = sentence_vectors[rows] @ questions[question_row]
        return flat[rows[int(np.argmax(sims))]][1]

    rng = random.Random(seed)  # noqa: S311 - a seeded split, not a secret
    held = set(rng.sample(range(len(answers)), round(len(answers) * VAL_SHARE)))
    similarity = questions @ questions.T
    train: list[Pair] = []
    val: list[Pair] = []
    for i, answer in enumerate(answers):
        out = val if i in held else train
        out.append(Pair(answer.question, answer.text, 1, _SOURCE, "passage"))
        out.append(Pair(answer.question, closest_sentence(i, i), 1, _SOURCE, "sentence"))
        taken = 0
        for j in map(int, np.argsort(-similarity[i])):
            if taken == NEIGHBOURS:
                break
            if j == i or answers[j].article == answer.article:
                continue
            if similarity[i, j] >= PARAPHRASE_COSINE or (j in held) != (i in held):
                continue
            out.append(Pair(answer.question, answers[j].text, 0, _SOURCE, "passage"))
            out.append(Pair(answer.question, closest_sentence(i, j), 0, _SOURCE, "sentence"))
            taken += 1
    return train, val
