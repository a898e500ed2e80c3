"""The reading model's adapters: the bundled ONNX model pinned by hash, an operator's
CrossEncoder directory, and the settings that pick one."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from api.settings import Settings
from retrieval.reading import (
    BUNDLED_READER_PATH,
    MODEL_FILE,
    PASSAGE_TOKENS,
    CrossEncoderReader,
    MemoizedReader,
    OnnxReader,
    ReaderModelError,
    ReaderSettings,
    load_reader,
)
from tests.fixtures.reader import CountingReader, needs_bundled_reader, tiny_cross_encoder


def _onnx_folder(tmp_path: Path, *, model: bytes, pinned: str) -> Path:
    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / MODEL_FILE).write_bytes(model)
    (folder / "model.sha256").write_text(f"{pinned}  {MODEL_FILE}\n", encoding="utf-8")
    return folder


def test_a_model_file_whose_hash_differs_from_the_pinned_one_is_refused(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path, model=b"not the trained model", pinned="0" * 64)
    with pytest.raises(ReaderModelError, match="altered or replaced"):
        load_reader(ReaderSettings(model_path=folder))


def test_a_model_without_its_pinned_hash_is_refused(tmp_path: Path) -> None:
    folder = _onnx_folder(tmp_path, model=b"x", pinned="0" * 64)
    (folder / "model.sha256").unlink()
    with pytest.raises(ReaderModelError, match=r"model\.sha256 is missing"):
        load_reader(ReaderSettings(model_path=folder, kind="onnx"))


def test_a_missing_model_directory_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReaderModelError, match="does not exist"):
        load_reader(ReaderSettings(model_path=tmp_path / "nowhere"))
    with pytest.raises(ReaderModelError, match="not a CrossEncoder directory"):
        load_reader(ReaderSettings(model_path=tmp_path))  # no model files at all


def test_reader_kind_none_means_no_reader_and_unknown_kinds_are_refused() -> None:
    assert load_reader(ReaderSettings(kind="none")) is None
    with pytest.raises(ValidationError):
        Settings.model_validate({"reader": {"kind": "llm"}})
    assert Settings.model_validate({"reader": {"kind": "none"}}).reader.kind == "none"


@pytest.fixture(scope="module")
def tiny_reader_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_cross_encoder(tmp_path_factory.mktemp("tiny-ce"), logit=1.5)


def test_an_operator_cross_encoder_directory_is_read_offline(tiny_reader_dir: Path) -> None:
    reader = load_reader(ReaderSettings(model_path=tiny_reader_dir))  # kind inferred
    assert isinstance(reader, CrossEncoderReader)
    scores = reader.score("Where are the lockers?", ["On the second floor.", "Badges.", "x"])
    assert scores.dtype == np.float32 and scores.shape == (3,)
    # Its head gives every pair the logit 1.5: the probability is its sigmoid, not the raw
    # value and not the default activation applied twice.
    assert np.allclose(scores, 1 / (1 + math.exp(-1.5)), atol=1e-5)
    assert reader.score("q", []).shape == (0,)


def test_a_cross_encoder_directory_named_as_onnx_is_refused_clearly(tiny_reader_dir: Path) -> None:
    with pytest.raises(ReaderModelError, match="is missing"):
        load_reader(ReaderSettings(model_path=tiny_reader_dir, kind="onnx"))


@needs_bundled_reader
def test_the_bundled_reader_loads_by_hash_and_encodes_pairs_as_it_was_trained() -> None:
    from transformers import AutoTokenizer

    reader = load_reader(ReaderSettings(kind="onnx"))
    assert isinstance(reader, OnnxReader)
    question = "When did Joey air on NBC?"
    texts = [
        "It aired on NBC from September 2004 to March 2006.",
        "Joey is an American sitcom spin-off of Friends. " * 20,  # cut to the token budget
    ]
    tokenizer = AutoTokenizer.from_pretrained(str(BUNDLED_READER_PATH), local_files_only=True)
    for limit in (64, 160):
        expected = tokenizer(
            [question] * 2, texts, truncation="only_second", max_length=limit, padding=True
        )
        got = reader.encode(question, texts, max_tokens=limit)
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            assert got[name].tolist() == expected[name], name
    scores = reader.score(question, texts)
    assert scores.shape == (2,) and bool(np.all((scores > 0) & (scores < 1)))


@needs_bundled_reader
def test_a_copy_of_the_bundled_reader_with_one_byte_changed_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "reader"
    shutil.copytree(BUNDLED_READER_PATH, copy)
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ReaderModelError, match="altered or replaced"):
        load_reader(ReaderSettings(model_path=copy))


def test_the_default_is_no_reader_and_kind_onnx_loads_the_bundled_one() -> None:
    # The bundled reader does not yet beat the confidence on CLAP NQ: opt-in, not the default.
    assert load_reader(ReaderSettings()) is None
    bundled = load_reader(ReaderSettings(kind="onnx"))
    assert bundled is not None
    scores = bundled.score(
        "How long is a VPN token valid?", ["The VPN token is valid for 8 hours."]
    )
    assert scores.shape == (1,) and 0.0 <= float(scores[0]) <= 1.0


@needs_bundled_reader
def test_a_pairs_probability_does_not_depend_on_what_it_is_read_with() -> None:
    # The int8 model scales its activations per call: read in a batch, a pair's probability
    # moved with its neighbours and their padding (0.019 / 0.024 / 0.029 for this pair).
    reader = load_reader(ReaderSettings(kind="onnx"))
    assert reader is not None
    question = "What is the company 401(k) match?"
    answer = (
        "Northwind matches 100% of the first 4% of salary you contribute, plus 50% of the "
        "next 2%: contribute 6% and you receive the full 5% match."
    )
    others = [
        "The match vests immediately.",
        "You are enrolled automatically at 3% after 30 days unless you choose otherwise. " * 3,
        "Open NW Connect.",
    ]
    alone = float(reader.score(question, [answer])[0])
    assert float(reader.score(question, [answer, others[0]])[0]) == alone
    assert float(reader.score(question, [*others, answer])[3]) == alone
    assert float(reader.score(question, [others[1], answer], max_tokens=64)[1]) == alone


@needs_bundled_reader
def test_a_memoized_reader_reads_each_pair_once_and_gives_the_same_probabilities() -> None:
    bundled = load_reader(ReaderSettings(kind="onnx"))
    assert bundled is not None
    counting = CountingReader(bundled)
    memo = MemoizedReader(counting, capacity=3)
    question = "Where are the lockers?"
    texts = [
        "Day lockers are on the second floor.",
        "Badges open doors.",
        "Day lockers are on the second floor.",
    ]
    first = memo.score(question, texts)
    assert np.array_equal(first, bundled.score(question, texts))
    assert [p[1] for p in counting.pairs] == texts[:2]  # the repeated text read once
    again = memo.score(question, ["Badges open doors.", "Reception issues keys."])
    assert float(again[0]) == float(first[1])
    assert [p[1] for p in counting.pairs[2:]] == ["Reception issues keys."]
    # Another token budget or question is another pair.
    memo.score(question, ["Badges open doors."], max_tokens=PASSAGE_TOKENS)
    memo.score("Who issues keys?", ["Badges open doors."])
    assert len(counting.pairs) == 5
    # At capacity the pair read longest ago is forgotten and read again when asked.
    memo.score(question, [texts[0]])
    assert len(counting.pairs) == 6
    assert memo.score(question, []).shape == (0,)
    with pytest.raises(ValueError, match="capacity"):
        MemoizedReader(counting, capacity=0)
