"""With a reading model, one request reads each (question, sentence) pair once: the composer's
lead choice and the decision read the same sentences, and the second asks the pipeline's memo
(`retrieval.reading.MemoizedReader`), not the model. Checked on the sample knowledge base with
the bundled reader, counting what reaches the model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from api.bootstrap.answering import answer_service
from retrieval.reading import SENTENCE_TOKENS, Reader, ReaderSettings, load_reader
from tests.fixtures.kb_index import KbIndex
from tests.fixtures.reader import needs_bundled_reader

QUESTIONS = [
    ("bob", "How do I reset my password?"),
    ("bob", "What is the company 401(k) match?"),
    ("bob", "Which Wi-Fi network should I use for my personal phone?"),
    ("bob", "How many days of annual leave do I get?"),
]


class _ModelCalls:
    """The bundled reader, recording every pair it is asked to read."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self.pairs: list[tuple[str, str, int]] = []

    @property
    def model_id(self) -> str:
        return self._reader.model_id

    def score(
        self, question: str, texts: Sequence[str], *, max_tokens: int = SENTENCE_TOKENS
    ) -> npt.NDArray[np.float32]:
        self.pairs += [(question, t, max_tokens) for t in texts]
        return self._reader.score(question, texts, max_tokens=max_tokens)


@needs_bundled_reader
@pytest.mark.parametrize(("user", "question"), QUESTIONS)
def test_one_request_reads_each_pair_once(kb_index: KbIndex, user: str, question: str) -> None:
    bundled = load_reader(ReaderSettings(kind="onnx"))
    assert bundled is not None
    calls = _ModelCalls(bundled)
    service = answer_service(
        retrieval=kb_index.retrieval,
        policy=kb_index.policy,
        embedder=kb_index.embedder,
        index_version=kb_index.state.index_version,
        reader=calls,
    )
    answer = service.answer(question, principal=kb_index.policy.principal_for(user))
    assert answer.status != "refused_no_evidence"
    assert calls.pairs, "the reader was not asked to read anything"
    read_twice = [pair[1] for pair, n in Counter(calls.pairs).items() if n > 1]
    assert read_twice == []
