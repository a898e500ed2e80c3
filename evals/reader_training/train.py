"""Train the reading model: a cross-encoder from the bundled all-MiniLM-L6-v2 weights.

`make reader DATA=../shared/data` runs `python -m evals.reader_training train` then `export`.
Seeded, resumable (a checkpoint after every `--checkpoint-every` steps and at the end: run the
same command again and it goes on where it stopped), and bounded in time (`--max-minutes`:
it stops cleanly, checkpointed, when the budget is spent). Progress goes to the log every
`--log-every` steps. The model scores a (question, text) pair with one logit: sigmoid of it is
the probability that the text states the answer.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals.reader_training.clapnq_train import clapnq_train_pairs
from evals.reader_training.data import Pair, load_pairs

__all__ = ["TrainConfig", "auc", "train"]

log = logging.getLogger("proofdesk.reader.train")


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path
    out_dir: Path
    seed: int = 13
    epochs: int = 2
    batch_size: int = 32
    lr: float = 6e-5
    head_lr: float = 1e-3
    warmup_steps: int = 200
    max_length: int = 64
    passage_max_length: int = 160
    bf16: bool = True
    freeze_embeddings: bool = True
    freeze_layers: int = 3
    threads: int = 1
    max_minutes: float = 170.0
    checkpoint_every: int = 200
    log_every: int = 25
    val_pairs: int = 1500
    # In-domain pairs from CLAP NQ train answers (clapnq_train.py), repeated this many times
    # per epoch; 0 leaves them out.
    clapnq_train_repeat: int = 2


def auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half)."""
    order = np.argsort(np.asarray(scores, dtype=np.float64), kind="mergesort")
    ranked = np.asarray(scores, dtype=np.float64)[order]
    ranks = np.empty(len(ranked), dtype=np.float64)
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1] == ranked[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2.0 + 1.0
        i = j + 1
    y = np.asarray(labels, dtype=np.int64)[order]
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    rank_sum = float(ranks[y == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def _batches(pairs: list[Pair], batch_size: int, seed: int, epoch: int) -> list[list[Pair]]:
    """Batches of similar length (less padding), in an order fixed by seed and epoch."""
    rng = random.Random(seed * 1000 + epoch)  # noqa: S311 - a seeded order, not a secret
    shuffled = pairs[:]
    rng.shuffle(shuffled)
    window = batch_size * 50
    batches: list[list[Pair]] = []
    for start in range(0, len(shuffled), window):
        block = sorted(
            shuffled[start : start + window], key=lambda p: len(p.question) + len(p.text)
        )
        batches += [block[i : i + batch_size] for i in range(0, len(block), batch_size)]
    rng.shuffle(batches)
    return batches


def _encode(tokenizer: Any, batch: Sequence[Pair], config: TrainConfig) -> dict[str, Any]:
    longest = max(
        config.passage_max_length if p.granularity == "passage" else config.max_length
        for p in batch
    )
    return dict(
        tokenizer(
            [p.question for p in batch],
            [p.text for p in batch],
            truncation="longest_first",
            max_length=longest,
            padding=True,
            return_tensors="pt",
        )
    )


def _score(model: Any, tokenizer: Any, pairs: Sequence[Pair], config: TrainConfig) -> list[float]:
    import torch

    model.eval()
    out: list[float] = []
    with torch.no_grad():
        for start in range(0, len(pairs), 64):
            batch = pairs[start : start + 64]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
                logits = model(**_encode(tokenizer, batch, config)).logits.squeeze(-1).float()
            out += [float(x) for x in logits]
    model.train()
    return out


def _validate(
    model: Any, tokenizer: Any, val: Sequence[Pair], config: TrainConfig
) -> dict[str, float]:
    scores = _score(model, tokenizer, val, config)
    labels = [p.label for p in val]
    correct = sum((s > 0) == (y == 1) for s, y in zip(scores, labels, strict=True))
    figures = {"val_auc": auc(labels, scores), "val_accuracy": correct / max(1, len(val))}
    groups: dict[str, Callable[[Pair], bool]] = {
        "sentence": lambda p: p.granularity == "sentence",
        "passage": lambda p: p.granularity == "passage",
        "clapnq_train": lambda p: p.source == "clapnq-train",
    }
    for granularity, member in groups.items():
        idx = [i for i, p in enumerate(val) if member(p)]
        if idx:
            figures[f"val_auc_{granularity}"] = auc(
                [labels[i] for i in idx], [scores[i] for i in idx]
            )
    return figures


def _iter_steps(batches: list[list[Pair]], start: int) -> Iterator[tuple[int, list[Pair]]]:
    for index in range(start, len(batches)):
        yield index, batches[index]


class _Run:
    """One training run's model, optimiser, schedule and progress (what a checkpoint holds)."""

    def __init__(self, config: TrainConfig, steps_per_epoch: int) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from retrieval.embedding.embedder import bundled_model_path

        self.config = config
        base = bundled_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(str(base))
        self.model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1)
        frozen = list(self.model.bert.encoder.layer[: config.freeze_layers])
        if config.freeze_embeddings:
            frozen.append(self.model.bert.embeddings)
        for module in frozen:
            for parameter in module.parameters():
                parameter.requires_grad = False
        head_names = ("classifier", "bert.pooler")
        named = list(self.model.named_parameters())
        self.optimizer = torch.optim.AdamW(
            [
                {
                    "params": [
                        p for n, p in named if p.requires_grad and not n.startswith(head_names)
                    ],
                    "lr": config.lr,
                },
                {"params": [p for n, p in named if n.startswith(head_names)], "lr": config.head_lr},
            ],
            weight_decay=0.01,
        )
        total = steps_per_epoch * config.epochs
        warmup = config.warmup_steps

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.05, 1.0 - (step - warmup) / max(1, total - warmup))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)
        self.loss_fn = torch.nn.BCEWithLogitsLoss()
        self.state: dict[str, Any] = {
            "epoch": 0,
            "batch": 0,
            "step": 0,
            "seconds": 0.0,
            "history": [],
        }
        self.checkpoint = config.out_dir / "checkpoint.pt"

    def resume(self) -> None:
        import torch

        if not self.checkpoint.is_file():
            return
        saved = torch.load(self.checkpoint, map_location="cpu", weights_only=False)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.state = saved["state"]
        torch.set_rng_state(saved["torch_rng"])
        log.info(
            "resumed at epoch %d batch %d (step %d)",
            self.state["epoch"],
            self.state["batch"],
            self.state["step"],
        )

    def save(self) -> None:
        import torch

        partial = self.checkpoint.with_suffix(".partial")
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "state": self.state,
                "torch_rng": torch.get_rng_state(),
                "config": {k: str(v) for k, v in asdict(self.config).items()},
            },
            partial,
        )
        partial.replace(self.checkpoint)

    def step(self, batch: Sequence[Pair]) -> float:
        """One optimiser step on `batch`; returns its mean loss."""
        import torch

        inputs = _encode(self.tokenizer, batch, self.config)
        labels = torch.tensor([float(p.label) for p in batch])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.bf16):
            logits = self.model(**inputs).logits.squeeze(-1).float()
        loss = self.loss_fn(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state["step"] += 1
        return float(loss.detach())


def _seed(config: TrainConfig) -> None:
    import torch

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(config.threads)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)


def train(config: TrainConfig) -> dict[str, Any]:
    """Train (or resume) and return the run's summary (also written to `summary.json`)."""
    _seed(config)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    train_pairs = load_pairs(config.data_dir, "train", seed=config.seed)
    val = load_pairs(config.data_dir, "val", seed=config.seed)[: config.val_pairs]
    if config.clapnq_train_repeat > 0:
        extra_train, extra_val = clapnq_train_pairs(config.data_dir, seed=config.seed)
        train_pairs += extra_train * config.clapnq_train_repeat
        random.Random(config.seed).shuffle(train_pairs)  # noqa: S311 - a seeded order
        val += extra_val
    steps_per_epoch = math.ceil(len(train_pairs) / config.batch_size)
    run = _Run(config, steps_per_epoch)
    run.resume()
    state = run.state
    log.info(
        "training on %d pairs (%d positive), %d steps per epoch, %d epochs; validating on %d",
        len(train_pairs),
        sum(p.label for p in train_pairs),
        steps_per_epoch,
        config.epochs,
        len(val),
    )
    started = time.monotonic() - float(state["seconds"])
    out_of_time = False
    window = _Window()
    while state["epoch"] < config.epochs and not out_of_time:
        batches = _batches(train_pairs, config.batch_size, config.seed, int(state["epoch"]))
        for index, batch in _iter_steps(batches, int(state["batch"])):
            window.add(run.step(batch), len(batch))
            state["batch"] = index + 1
            state["seconds"] = time.monotonic() - started
            if state["step"] % config.log_every == 0:
                window.report(state, steps_per_epoch * config.epochs)
            if state["step"] % config.checkpoint_every == 0:
                run.save()
            if state["seconds"] > config.max_minutes * 60.0:
                log.info("time budget of %.0f minutes spent: stopping", config.max_minutes)
                out_of_time = True
                break
        else:
            figures = _validate(run.model, run.tokenizer, val, config)
            state["history"].append({"epoch": state["epoch"], "step": state["step"], **figures})
            log.info("epoch %d done: %s", state["epoch"], figures)
            state["epoch"] += 1
            state["batch"] = 0
        run.save()
    figures = _validate(run.model, run.tokenizer, val, config)
    summary = {
        "steps": state["step"],
        "epochs_completed": state["epoch"],
        "pairs_seen": state["step"] * config.batch_size,
        "train_pairs": len(train_pairs),
        "train_positives": sum(p.label for p in train_pairs),
        "minutes": state["seconds"] / 60.0,
        "stopped_by_time_budget": out_of_time,
        "history": state["history"],
        **figures,
        "config": {k: str(v) for k, v in asdict(config).items()},
    }
    (config.out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("final: %s", {k: v for k, v in summary.items() if k != "config"})
    return summary


class _Window:
    """Loss and throughput since the last progress line."""

    def __init__(self) -> None:
        self.loss = 0.0
        self.pairs = 0
        self.since = time.monotonic()

    def add(self, loss: float, pairs: int) -> None:
        self.loss += loss * pairs
        self.pairs += pairs

    def report(self, state: dict[str, Any], total_steps: int) -> None:
        rate = self.pairs / max(1e-9, time.monotonic() - self.since)
        log.info(
            "epoch %d step %d/%d loss %.4f %.1f pairs/s elapsed %.1f min",
            state["epoch"],
            state["step"],
            total_steps,
            self.loss / max(1, self.pairs),
            rate,
            state["seconds"] / 60.0,
        )
        self.loss, self.pairs, self.since = 0.0, 0, time.monotonic()
