"""The ONNX Runtime backend gives the torch backend's vectors and token counts, exports the
model once (offline, into its cache directory) and recovers from a damaged export."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from retrieval.embedding.embedder import (
    EmbeddingSettings,
    SentenceTransformerEmbedder,
    load_embedder,
)
from retrieval.embedding.onnx_backend import (
    OnnxEmbedder,
    OnnxExportError,
    int8_file_for,
    quantize_int8,
)

TEXTS = [
    "VPN",
    "How do I reset my password?",
    "Réinitialiser le mot de passe — Schritt 2: öffnen Sie das Portal.",
    "| Step | Where |\n| --- | --- |\n| Unlock | Service desk, extension 4400 |",
    " ".join(f"word{i} of a long page about printers and toner" for i in range(120)),  # > 256
]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(settings=EmbeddingSettings(backend="torch"))


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


def test_onnx_vectors_and_tokens_equal_torch(
    onnx_cache: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    onnx = OnnxEmbedder(
        settings=EmbeddingSettings(
            onnx_cache_dir=onnx_cache, batch_size=2, query_precision="float32"
        )
    )

    documents = onnx.embed_documents(TEXTS)
    expected = torch_embedder.embed_documents(TEXTS)
    assert documents.shape == expected.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(documents, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(onnx.embed_query(TEXTS[1]), expected[1], atol=1e-5)
    assert onnx.embed_documents([]).shape == (0, 384)
    assert (onnx.model_id, onnx.dimension, onnx.max_tokens) == (
        torch_embedder.model_id,
        torch_embedder.dimension,
        torch_embedder.max_tokens,
    )
    assert onnx.count(TEXTS) == torch_embedder.count(TEXTS)
    assert onnx.token_spans(TEXTS[2]) == torch_embedder.token_spans(TEXTS[2])


def test_the_export_is_made_once_and_a_damaged_one_is_replaced(onnx_cache: Path) -> None:
    settings = EmbeddingSettings(onnx_cache_dir=onnx_cache)
    first = OnnxEmbedder(settings=settings)
    exported, int8 = first.onnx_file, int8_file_for(first.onnx_file)
    stamps = (exported.stat().st_mtime_ns, int8.stat().st_mtime_ns)
    assert sorted(p.name for p in onnx_cache.iterdir()) == sorted([exported.name, int8.name])

    again = OnnxEmbedder(settings=settings)
    assert again.onnx_file == exported
    assert (exported.stat().st_mtime_ns, int8.stat().st_mtime_ns) == stamps  # not made again

    for damaged in (exported, int8):
        damaged.write_bytes(b"not an onnx model")
        repaired = OnnxEmbedder(settings=settings)
        np.testing.assert_allclose(
            repaired.embed_query("printer jam"), first.embed_query("printer jam"), atol=1e-6
        )
        np.testing.assert_allclose(
            repaired.embed_documents(["printer jam"]),
            first.embed_documents(["printer jam"]),
            atol=1e-6,
        )


def test_int8_queries_keep_the_float32_direction_and_ranking(
    onnx_cache: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    """Queries through the int8 copy: each vector within a cosine of 0.98 of the float32 one,
    and the passages a query should find rank as they do in float32; documents are float32."""
    int8 = OnnxEmbedder(settings=EmbeddingSettings(onnx_cache_dir=onnx_cache))
    exact = OnnxEmbedder(
        settings=EmbeddingSettings(onnx_cache_dir=onnx_cache, query_precision="float32")
    )
    np.testing.assert_allclose(
        int8.embed_documents(TEXTS), torch_embedder.embed_documents(TEXTS), atol=1e-5
    )
    queries = [*TEXTS, "printer out of toner", "my account is locked", "VPN keeps dropping"]
    for query in queries:
        fast, slow = int8.embed_query(query), exact.embed_query(query)
        assert not np.allclose(fast, slow, atol=1e-5)  # it is the int8 model that answered
        assert float(fast @ slow) / float(np.linalg.norm(fast) * np.linalg.norm(slow)) > 0.98
        assert abs(float(np.linalg.norm(fast)) - 1.0) < 1e-3
    passages = exact.embed_documents(
        [
            "Replace the toner cartridge when the printer shows a low-toner warning.",
            "Accounts lock after five failed sign-ins; the service desk unlocks them.",
            "The VPN client reconnects automatically when the network changes.",
        ]
    )
    for expected, query in enumerate(queries[-3:]):
        assert int(np.argmax(passages @ int8.embed_query(query))) == expected


def test_settings_choose_the_backend(onnx_cache: Path) -> None:
    assert isinstance(load_embedder(EmbeddingSettings(onnx_cache_dir=onnx_cache)), OnnxEmbedder)
    assert isinstance(
        load_embedder(EmbeddingSettings(backend="torch")), SentenceTransformerEmbedder
    )


def test_an_unwritable_cache_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")

    with pytest.raises(OnnxExportError, match=r"embedding\.onnx_cache_dir") as raised:
        OnnxEmbedder(settings=EmbeddingSettings(onnx_cache_dir=blocker / "onnx"))

    assert str(blocker / "onnx") in str(raised.value)
    assert blocker.read_text(encoding="utf-8") == "not a directory"  # nothing overwritten


def test_an_int8_copy_that_cannot_be_written_is_a_clear_error(onnx_cache: Path) -> None:
    """The export is there but its int8 copy cannot be written (a directory stands where it
    goes): the error names the directory and the settings that avoid it; nothing is left."""
    export = OnnxEmbedder(
        settings=EmbeddingSettings(onnx_cache_dir=onnx_cache, query_precision="float32")
    ).onnx_file
    blocked = onnx_cache.parent / "blocked"
    blocked.mkdir()
    target = blocked / export.name
    target.write_bytes(export.read_bytes())
    (blocked / int8_file_for(target).name).mkdir()

    with pytest.raises(OnnxExportError, match=r"embedding\.query_precision: float32") as raised:
        quantize_int8(target, int8_file_for(target))

    assert str(blocked) in str(raised.value)
    assert sorted(p.name for p in blocked.iterdir()) == sorted(
        [target.name, int8_file_for(target).name]
    )  # no temporary file left behind


def test_quantizing_keeps_other_log_records(
    onnx_cache: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    export = OnnxEmbedder(
        settings=EmbeddingSettings(onnx_cache_dir=onnx_cache, query_precision="float32")
    ).onnx_file
    with caplog.at_level(logging.WARNING):
        quantize_int8(export, tmp_path / "copy.onnx")
        logging.warning("a warning of the application's own")
    messages = [r.getMessage() for r in caplog.records]
    assert "a warning of the application's own" in messages
    assert not any(m.startswith("Please consider to run pre-processing") for m in messages)
    assert (tmp_path / "copy.onnx").is_file()
