"""Picks the connector for an approved source's kind."""

from __future__ import annotations

from ingest.connectors import Connector
from ingest.connectors.filesystem import FilesystemConnector
from ingest.connectors.web import WebConnector
from ingest.sources import SourceConfig

__all__ = ["connector_for"]


def connector_for(source: SourceConfig) -> Connector:
    if source.source_kind == "web":
        return WebConnector(source=source)
    return FilesystemConnector(source=source)
