"""With a reading model, one request reads each (question, sentence) pair once: the composer's
lead choice and the decision read the same sentences, and the second asks the pipeline's memo
(`retrieval.reading.MemoizedReader`), not the model. Checked on the sample knowledge base with
the bundled reader, counting what reaches the model."""

from __future__ import annotations

from collections import Counter

import pytest

from api.bootstrap.answering import answer_service
from retrieval.reading import ReaderSettings, load_reader
from tests.fixtures.kb_index import KbIndex
from tests.fixtures.reader import CountingReader, needs_bundled_reader

QUESTIONS = [
    ("bob", "How do I reset my password?"),
    ("bob", "What is the company 401(k) match?"),
    ("bob", "Which Wi-Fi network should I use for my personal phone?"),
    ("bob", "How many days of annual leave do I get?"),
]


@needs_bundled_reader
@pytest.mark.parametrize(("user", "question"), QUESTIONS)
def test_one_request_reads_each_pair_once(kb_index: KbIndex, user: str, question: str) -> None:
    bundled = load_reader(ReaderSettings(kind="onnx"))
    assert bundled is not None
    calls = CountingReader(bundled)
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
