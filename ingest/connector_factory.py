"""Picks the connector for an approved source's kind."""

from __future__ import annotations

from ingest.connectors import Connector
from ingest.connectors.filesystem import FilesystemConnector
from ingest.connectors.web import WebConnector
from ingest.sources import SourceConfig, WebSource

__all__ = ["connector_for"]


def connector_for(source: SourceConfig) -> Connector:
    if isinstance(source, WebSource):
        return WebConnector(source=source)
    return FilesystemConnector(source=source)
