"""Property-based fuzzing of the OpenAPI schema (schemathesis) against the app as `proofdesk
serve` builds it (`tests/fixtures/served_app.py`), on a real socket.

Every operation gets valid and invalid requests (positive and negative generation) with
credentials holding every scope; no response may be a 5xx, and every response must match the
documented status codes, content types and schemas. Size: PROOFDESK_FUZZ_EXAMPLES examples per
operation and mode (default 60: about 1,100 requests in total, a minute or two here); e.g.
`PROOFDESK_FUZZ_EXAMPLES=500 pytest tests/api/test_fuzz.py` for a long run.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.served_app import ServedApp

EXAMPLES = int(os.environ.get("PROOFDESK_FUZZ_EXAMPLES", "60"))
MIN_REQUESTS = 1000 if EXAMPLES >= 60 else 0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.slow
def test_openapi_fuzzing_finds_no_server_errors(served: ServedApp) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    auth = served.auth("everything")
    sent: dict[str, int] = {}
    with requests.Session() as session:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(mode, headers=auth))
                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink],
                    suppress_health_check=list(HealthCheck),
                )
                def run(case: Case[Any]) -> None:
                    response = case.call(session=session)
                    sent[case.operation.label] = sent.get(case.operation.label, 0) + 1
                    case.validate_response(response, checks=CHECKS)

                try:
                    run()
                except Unsatisfiable:
                    # Nothing to make invalid (no parameters, no body): positive cases only.
                    assert mode is GenerationMode.NEGATIVE, operation.label
    total = sum(sent.values())
    print(f"schemathesis: {total} requests over {len(sent)} operations: {sent}")  # noqa: T201
    # Every operation of the served API: /v1/models, the policy reload, search, the audit API.
    assert len(sent) == 24
    assert total >= MIN_REQUESTS
