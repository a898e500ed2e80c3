"""`store.*` settings: the backend decides which settings exist (a discriminated union of
`EdgeStoreSettings` and `ServerStoreSettings`), through the application's settings loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from api.settings import load_settings
from retrieval.store_factory import EdgeStoreSettings, ServerStoreSettings


def _settings_with(tmp_path: Path, store: dict[str, object]) -> object:
    config = tmp_path / "proofdesk.yaml"
    config.write_text(yaml.safe_dump({"store": store}), encoding="utf-8")
    return load_settings(config).store


def test_edge_is_the_default_with_or_without_the_backend_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./proofdesk.yaml: the defaults
    monkeypatch.delenv("PROOFDESK_CONFIG", raising=False)
    assert isinstance(load_settings().store, EdgeStoreSettings)
    store = _settings_with(tmp_path, {"path": str(tmp_path / "index"), "payload_memory": "cold"})
    assert isinstance(store, EdgeStoreSettings) and store.payload_memory == "cold"


def test_a_server_store_has_its_own_settings(tmp_path: Path) -> None:
    store = _settings_with(
        tmp_path, {"backend": "server", "url": "http://127.0.0.1:6333", "collection": "kb"}
    )
    assert isinstance(store, ServerStoreSettings) and store.collection == "kb"


@pytest.mark.parametrize(
    ("store", "message"),
    [
        # An Edge-only setting under the server backend was silently ignored before.
        (
            {"backend": "server", "url": "http://127.0.0.1:6333", "payload_memory": "cold"},
            "payload_memory",
        ),
        ({"path": "x", "url": "http://127.0.0.1:6333"}, "url"),  # edge has no url
        ({"backend": "server"}, "needs a url"),
        ({"backend": "server", "url": "http://h", "local_mode": True}, "not both"),
        ({"backend": "milvus"}, "milvus"),
    ],
)
def test_settings_of_another_backend_are_refused(
    tmp_path: Path, store: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings_with(tmp_path, store)
