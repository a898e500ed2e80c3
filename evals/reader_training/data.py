"""The reading model's training data: question-text pairs from `shared/data/reader/`.

Each file is gzip JSONL with `question`, `text`, `label` (1 = the text answers the question),
`split` (`train` | `val`, split by question and article), `granularity` and `source`. The
README beside the data gives provenance and licences; `sources()` records each file's SHA-256
for the model card.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TRAINING_FILES", "Pair", "file_digests", "load_pairs"]

# The files trained on, and how many of each file's train rows one epoch takes (None: all).
# The same-article negatives are plentiful and easy (another paragraph of the same article);
# a subsample keeps an epoch inside the 2-core time budget without dropping the hard cases.
TRAINING_FILES: dict[str, int | None] = {
    "squad2_dev_sentences.jsonl.gz": None,
    "squad11_dev_extra_sentences.jsonl.gz": None,
    "passages_all.jsonl.gz": None,
    "extra_covidqa_sentences.jsonl.gz": None,
    "same_article_negatives.jsonl.gz": 8000,
}


@dataclass(frozen=True)
class Pair:
    question: str
    text: str
    label: int
    source: str
    granularity: str


def load_pairs(data_dir: Path, split: str, *, seed: int) -> list[Pair]:
    """Every pair of `split` from the training files (subsampled as `TRAINING_FILES` says),
    shuffled with `seed`."""
    rng = random.Random(seed)  # noqa: S311 - a seeded sample, not a secret
    pairs: list[Pair] = []
    for name, cap in TRAINING_FILES.items():
        path = data_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"reader training data missing: {path}")
        rows: list[Pair] = []
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                if row["split"] != split:
                    continue
                rows.append(
                    Pair(
                        question=str(row["question"]),
                        text=str(row["text"]),
                        label=int(row["label"]),
                        source=str(row.get("source", name)),
                        granularity=str(row.get("granularity", "sentence")),
                    )
                )
        if cap is not None and split == "train" and len(rows) > cap:
            rows = rng.sample(rows, cap)
        pairs.extend(rows)
    rng.shuffle(pairs)
    return pairs


def file_digests(data_dir: Path) -> dict[str, str]:
    """SHA-256 of each training file, for the model card."""
    out: dict[str, str] = {}
    for name in (*TRAINING_FILES, "extra_clapnq_train_positives.jsonl.gz"):
        if (data_dir / name).is_file():
            out[name] = hashlib.sha256((data_dir / name).read_bytes()).hexdigest()
    return out
