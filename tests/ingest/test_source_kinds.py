"""A source's `kind` decides which fields it has (`ingest.sources`: a discriminated union of
`FilesystemSource` and `WebSource`): a field of the other kind is an error naming the source,
not silently ignored; a missing required field says which kind needs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.connector_factory import connector_for
from ingest.connectors.filesystem import FilesystemConnector
from ingest.connectors.web import WebConnector
from ingest.sources import FilesystemSource, SourcesFileError, WebSource, load_sources


def _load(tmp_path: Path, entries: str) -> list[object]:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + entries, encoding="utf-8")
    return list(load_sources(path))


def test_each_kind_gets_its_own_model_and_connector(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    wiki, site = _load(
        tmp_path,
        "  - {id: wiki, kind: filesystem, root: kb}\n"
        "  - {id: site, kind: web, seeds: ['http://127.0.0.1:9/'],"
        " allowed_hosts: ['127.0.0.1:9']}\n",
    )
    assert isinstance(wiki, FilesystemSource) and wiki.root == (tmp_path / "kb").resolve()
    assert isinstance(site, WebSource) and site.seeds == ["http://127.0.0.1:9/"]
    assert isinstance(connector_for(wiki), FilesystemConnector)
    assert isinstance(connector_for(site), WebConnector)


def test_a_field_of_the_other_kind_is_an_error(tmp_path: Path) -> None:
    # Before: `seeds` on a filesystem source was accepted and did nothing.
    with pytest.raises(SourcesFileError, match=r"sources\[wiki\]\.seeds: Extra inputs"):
        _load(tmp_path, "  - {id: wiki, kind: filesystem, root: kb, seeds: ['http://x/']}\n")
    with pytest.raises(SourcesFileError, match=r"sources\[site\]\.root: Extra inputs"):
        _load(
            tmp_path,
            "  - {id: site, kind: web, root: kb, seeds: ['http://x/'], allowed_hosts: [x]}\n",
        )


def test_missing_and_unknown_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(
        SourcesFileError, match=r"sources\[wiki\]: a filesystem source needs 'root'"
    ):
        _load(tmp_path, "  - {id: wiki, kind: filesystem}\n")
    with pytest.raises(SourcesFileError, match="a web source needs 'allowed_hosts'"):
        _load(tmp_path, "  - {id: site, kind: web, seeds: ['http://x/']}\n")
    with pytest.raises(SourcesFileError, match=r"unknown source kind 'ftp' \(expected one of"):
        _load(tmp_path, "  - {id: ftp, kind: ftp}\n")
