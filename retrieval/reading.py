"""The reading model: how likely a text states the answer to a question (not only its topic).

`Reader` is the port: `score(question, texts)` gives one probability per text. Two adapters:
- `OnnxReader` (default): the cross-encoder the project trains and ships in
  `retrieval/reader_model/` (int8 ONNX, all-MiniLM-L6-v2 tokenizer), loaded offline, refused
  unless its SHA-256 is the one in `model.sha256`; one ONNX Runtime session per process; each
  pair is run alone, so its probability never depends on what else is read with it.
- `CrossEncoderReader`: any sentence-transformers `CrossEncoder` directory an operator supplies
  (`reader.model_path`, `reader.kind: cross_encoder`): a stronger reranker or NLI model.

`MemoizedReader` wraps either: a pair read once is not read again while it is remembered (the
composer's lead choice and the decision read the same sentences of a request: one batch).

A sentence is read with at most `SENTENCE_TOKENS` word pieces for the pair, a passage with
`PASSAGE_TOKENS` (the text is truncated, never the question), the lengths the model was
trained with.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from infra.errors import ConfigurationError

__all__ = [
    "BUNDLED_READER_PATH",
    "PASSAGE_TOKENS",
    "SENTENCE_TOKENS",
    "CrossEncoderReader",
    "MemoizedReader",
    "OnnxReader",
    "Reader",
    "ReaderModelError",
    "ReaderSettings",
    "load_reader",
    "shared_reader",
]

Probabilities = npt.NDArray[np.float32]
BUNDLED_READER_PATH = Path(__file__).resolve().parent / "reader_model"
MODEL_FILE = "reader-int8.onnx"
HASH_FILE = "model.sha256"
SENTENCE_TOKENS = 64
PASSAGE_TOKENS = 160
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class ReaderModelError(ConfigurationError, RuntimeError):
    """The reading model cannot be loaded: missing, altered or unreadable."""


class ReaderSettings(BaseModel):
    """Which reading model decides whether the evidence states the answer."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["onnx", "cross_encoder", "none"] | None = Field(
        default=None,
        description="onnx: the project's model format (reader-int8.onnx + model.sha256 + "
        "tokenizer); cross_encoder: a sentence-transformers CrossEncoder directory; none: no "
        "reader (the decision rests on the confidence alone). Unset: no reader unless "
        "model_path is set (then inferred from its files): the bundled reader does not yet tell "
        "answerable from unanswerable better than the confidence (docs/benchmarks.md), so it is "
        "opt-in with `kind: onnx`",
    )
    model_path: Path | None = Field(
        default=None, description="model directory; default: the bundled retrieval/reader_model"
    )
    batch_size: int = Field(
        default=16,
        ge=1,
        le=512,
        description="pairs per model call of a cross_encoder reader (the onnx reader runs "
        "each pair alone: its int8 activations are scaled per call)",
    )
    threads: int | None = Field(default=None, ge=1, description="intra-op threads per call")


class Reader(Protocol):
    @property
    def model_id(self) -> str: ...

    def score(
        self, question: str, texts: Sequence[str], *, max_tokens: int = SENTENCE_TOKENS
    ) -> Probabilities:
        """The probability that each text states the answer to `question` (1-D, float32)."""


class MemoizedReader:
    """A reader that remembers the probabilities of the last `capacity` pairs it read and reads
    only the pairs it does not remember, in one call. Keys are SHA-256 digests of the pair (no
    question text is kept); safe to share between threads."""

    def __init__(self, reader: Reader, *, capacity: int = 2048) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._reader = reader
        self._capacity = capacity
        self._known: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._reader.model_id

    def score(
        self, question: str, texts: Sequence[str], *, max_tokens: int = SENTENCE_TOKENS
    ) -> Probabilities:
        keys = [_pair_key(question, t, max_tokens) for t in texts]
        out = np.empty(len(texts), dtype=np.float32)
        missing: dict[bytes, list[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                known = self._known.get(key)
                if known is None:
                    missing.setdefault(key, []).append(i)
                else:
                    self._known.move_to_end(key)
                    out[i] = known
        if missing:
            first = [places[0] for places in missing.values()]
            read = self._reader.score(question, [texts[i] for i in first], max_tokens=max_tokens)
            with self._lock:
                for (key, places), p in zip(missing.items(), read, strict=True):
                    out[places] = p
                    self._known[key] = float(p)
                    self._known.move_to_end(key)
                while len(self._known) > self._capacity:
                    self._known.popitem(last=False)
        return out


def _pair_key(question: str, text: str, max_tokens: int) -> bytes:
    digest = hashlib.sha256()
    for part in (question, text, str(max_tokens)):
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.digest()


def load_reader(settings: ReaderSettings | None = None) -> Reader | None:
    """The reader the settings name (None for `kind: none`). Raises `ReaderModelError` when it
    cannot be loaded."""
    settings = settings or ReaderSettings()
    if settings.kind == "none" or (settings.kind is None and settings.model_path is None):
        return None
    path = settings.model_path or BUNDLED_READER_PATH
    if not path.is_dir():
        raise ReaderModelError(
            f"reader model directory {path} does not exist (set reader.model_path to a model "
            "directory, or reinstall proofdesk to restore the bundled one)"
        )
    kind = settings.kind or ("onnx" if (path / MODEL_FILE).is_file() else "cross_encoder")
    if kind == "onnx":
        return OnnxReader(path, threads=settings.threads)
    return CrossEncoderReader(path, batch_size=settings.batch_size, threads=settings.threads)


_shared: dict[str, Reader | None] = {}
_shared_lock = threading.Lock()


def shared_reader(settings: ReaderSettings | None = None) -> Reader | None:
    """One reader per process and settings (the ONNX session is built once and shared)."""
    settings = settings or ReaderSettings()
    key = settings.model_dump_json()
    with _shared_lock:
        if key not in _shared:
            _shared[key] = load_reader(settings)
        return _shared[key]


def _sigmoid(logits: npt.NDArray[Any]) -> Probabilities:
    clipped = np.clip(np.asarray(logits, dtype=np.float64), -50.0, 50.0)
    return (1.0 / (1.0 + np.exp(-clipped))).astype(np.float32)


def expected_digest(folder: Path) -> str:
    """The SHA-256 `model.sha256` pins for `reader-int8.onnx`."""
    hash_file = folder / HASH_FILE
    if not hash_file.is_file():
        raise ReaderModelError(f"{hash_file} is missing: the reader model cannot be verified")
    for line in hash_file.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == MODEL_FILE:
            return parts[0].lower()
    raise ReaderModelError(f"{hash_file} has no '<sha256>  {MODEL_FILE}' line")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OnnxReader:
    """The project's reader on ONNX Runtime (CPU), checked against its pinned digest."""

    def __init__(self, folder: Path, *, threads: int | None = None) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import onnxruntime
        from tokenizers import Tokenizer

        model_file = folder / MODEL_FILE
        if not model_file.is_file():
            raise ReaderModelError(f"reader model {model_file} is missing")
        expected = expected_digest(folder)
        actual = file_digest(model_file)
        if actual != expected:
            raise ReaderModelError(
                f"reader model {model_file} has SHA-256 {actual[:16]}…, but {HASH_FILE} pins "
                f"{expected[:16]}…: the file was altered or replaced; refusing to load it"
            )
        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise ReaderModelError(f"reader tokenizer {tokenizer_file} is missing")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = onnxruntime.InferenceSession(
                str(model_file), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ReaderModelError(f"reader model {model_file} cannot be loaded: {exc}") from exc
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_truncation()  # cut here, pair by pair (`_run`)
        self._tokenizer.no_padding()
        self._feeds = [i.name for i in self._session.get_inputs() if i.name in _INPUTS]
        self._model_id = f"proofdesk-reader@{actual[:12]}"

    @property
    def model_id(self) -> str:
        return self._model_id

    def score(
        self, question: str, texts: Sequence[str], *, max_tokens: int = SENTENCE_TOKENS
    ) -> Probabilities:
        """Each pair is run alone, unpadded: the int8 model quantizes its activations with one
        scale per call (ONNX Runtime's dynamic quantization), so in a batch a pair's probability
        would depend on the other pairs and on padding (0.019 to 0.029 for one pair here).
        Alone, a pair always gets the same probability, at about the cost of a batch: four CLAP
        NQ sentence pairs took 24-34 ms p50 alone against 23-27 ms batched (two alternating
        runs on this 2-core machine)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        feeds = self.encode(question, texts, max_tokens=max_tokens)
        lengths = feeds["attention_mask"].sum(axis=1)
        out = np.empty(len(texts), dtype=np.float32)
        for i, length in enumerate(lengths):
            row = {k: feeds[k][i : i + 1, :length] for k in self._feeds}
            logits = self._session.run(["logit"], row)[0]
            out[i] = _sigmoid(np.asarray(logits).reshape(-1)[:1])[0]
        return out

    def encode(
        self, question: str, texts: Sequence[str], *, max_tokens: int
    ) -> dict[str, npt.NDArray[np.int64]]:
        """The model's inputs for the pairs: `[CLS] question [SEP] text [SEP]`, padded, the
        text cut to fit `max_tokens` (as `truncation="only_second"`); a question too long to
        leave room is cut too, rather than the request failing."""
        question_ids = self._tokenizer.encode(question, add_special_tokens=False).ids
        question_ids = question_ids[: max(max_tokens - 3 - 8, 1)]
        room = max_tokens - 3 - len(question_ids)
        encoded = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        cls, sep = self._special("[CLS]"), self._special("[SEP]")
        rows = [[cls, *question_ids, sep, *e.ids[:room], sep] for e in encoded]
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
            types[i, len(question_ids) + 2 : len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def _special(self, token: str) -> int:
        found = self._tokenizer.token_to_id(token)
        if found is None:
            raise ReaderModelError(f"reader tokenizer has no {token} token")
        return int(found)


class CrossEncoderReader:
    """A sentence-transformers `CrossEncoder` directory (torch, CPU, offline): a reranker (one
    logit, read through a sigmoid) or an NLI model (the softmax probability of entailment).
    It reads up to its own `max_length`; `max_tokens` is the project model's."""

    def __init__(self, folder: Path, *, batch_size: int = 16, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import CrossEncoder

        if threads:
            torch.set_num_threads(threads)
        if not (folder / "config.json").is_file():
            raise ReaderModelError(
                f"{folder} is not a CrossEncoder directory (no config.json; for the project's "
                f"format it needs {MODEL_FILE} and {HASH_FILE})"
            )
        try:
            self._model = CrossEncoder(str(folder), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ReaderModelError(f"reader model {folder} cannot be loaded: {exc}") from exc
        self._batch_size = batch_size
        self._identity = torch.nn.Identity()
        self._model_id = f"cross-encoder:{folder.name}"

    @property
    def model_id(self) -> str:
        return self._model_id

    def score(
        self, question: str, texts: Sequence[str], *, max_tokens: int = SENTENCE_TOKENS
    ) -> Probabilities:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        scores = self._model.predict(
            [(question, t) for t in texts],
            batch_size=self._batch_size,
            show_progress_bar=False,
            activation_fn=self._identity,  # raw logits: made probabilities here
            convert_to_numpy=True,
        )
        matrix = np.asarray(scores, dtype=np.float32).reshape(len(texts), -1)
        if matrix.shape[1] == 1:  # a reranker: one logit per pair
            return _sigmoid(matrix[:, 0])
        # An NLI model: the probability of its "entailment" label (else of its last label).
        labels = {str(v).lower(): int(k) for k, v in self._model.config.id2label.items()}
        column = labels.get("entailment", matrix.shape[1] - 1)
        exp = np.exp(matrix - matrix.max(axis=1, keepdims=True))
        probabilities: Probabilities = (exp[:, column] / exp.sum(axis=1)).astype(np.float32)
        return probabilities
