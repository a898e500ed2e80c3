"""Every configuration mistake is a `ConfigurationError` (the CLI catches that one class), and
keeps the built-in base it had; request-time errors are not configuration errors."""

from __future__ import annotations

import pytest

from agent.audit.store import UnknownAnswerError
from agent.llm.prompts import PromptTemplateError, load_prompt
from agent.screening import InvalidQuestionError
from api.api_settings import InsecureSettingsError
from api.auth import ApiKeysFileError
from api.settings import ConfigFileError
from evals.reporting import ThresholdsError
from infra.errors import ConfigurationError
from ingest.sources import SourcesFileError, UnknownSourceError
from policies.access.engine import PolicyLoadError
from policies.pii.port import PseudonymKeyMissingError
from retrieval.embedding.onnx_backend import OnnxExportError
from retrieval.reading import ReaderModelError
from retrieval.store import StoreError


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (ConfigFileError, ValueError),
        (InsecureSettingsError, ValueError),
        (ApiKeysFileError, ValueError),
        (SourcesFileError, ValueError),
        (PolicyLoadError, Exception),
        (ReaderModelError, RuntimeError),
        (OnnxExportError, RuntimeError),
        (PromptTemplateError, ValueError),
        (PseudonymKeyMissingError, RuntimeError),
        (ThresholdsError, ValueError),
    ],
)
def test_configuration_mistakes_share_one_base(error: type[Exception], builtin: type) -> None:
    assert issubclass(error, ConfigurationError) and issubclass(error, builtin)


@pytest.mark.parametrize(
    "error", [InvalidQuestionError, UnknownSourceError, UnknownAnswerError, StoreError]
)
def test_request_time_errors_are_not_configuration_errors(error: type[Exception]) -> None:
    assert not issubclass(error, ConfigurationError)


def test_a_raised_configuration_mistake_is_caught_as_one() -> None:
    with pytest.raises(ConfigurationError, match="invalid prompt id"):
        load_prompt("Not An Id", "v1")
