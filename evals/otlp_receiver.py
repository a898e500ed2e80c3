"""A real HTTP server on 127.0.0.1 standing in for a Langfuse server: it accepts what the
Langfuse SDK exports (OTLP/HTTP protobuf spans, gzip or not, on /api/public/otel/v1/traces, and
JSON score batches on /api/public/scores), keeps every raw body and decodes the spans.

The SDK's `flush()` returns only after the export request got its response, and the receiver
stores a body before it answers, so after a flush the data is here: no waiting needed.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

__all__ = ["OTLP_TRACES_PATH", "SCORES_PATH", "OtlpReceiver", "ReceivedSpan", "running_receiver"]

OTLP_TRACES_PATH = "/api/public/otel/v1/traces"
SCORES_PATH = "/api/public/scores"


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, object]
    events: list[tuple[str, dict[str, object]]]
    status_message: str
    scope_attributes: dict[str, object] = field(default_factory=dict)

    def text(self) -> str:
        """Everything of the span as plain text, for 'does X appear anywhere' checks: every
        string leaf of the name, attributes, events and status, with attributes holding JSON
        (Langfuse's input/output/metadata) decoded, so escaped text (non-ASCII, newlines) is
        searched as the characters it encodes."""
        leaves: list[str] = [self.name, self.status_message]
        for value in self.attributes.values():
            _string_leaves(value, leaves)
            _string_leaves(_decoded(value), leaves)
        for name, attributes in self.events:
            leaves.append(name)
            _string_leaves(attributes, leaves)
        return "\n".join(leaves)


def _string_leaves(value: object, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            into.append(str(key))
            _string_leaves(item, into)
    elif isinstance(value, list):
        for item in value:
            _string_leaves(item, into)
    elif value is not None:
        into.append(str(value))


def _decoded(value: object) -> object:
    if isinstance(value, str):
        try:
            parsed: object = json.loads(value)
        except ValueError:
            return value
        return parsed
    return value


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.decode("utf-8", "replace")
    found: object = getattr(value, kind)
    return found


class OtlpReceiver:
    """Start with `start()` (or `running_receiver()`), point the SDK at `base_url`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.raw_bodies: list[bytes] = []  # decompressed request bodies, every path
        self.paths: list[str] = []
        self.spans: list[ReceivedSpan] = []
        self.scores: list[dict[str, object]] = []
        self.authorizations: list[str] = []
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                status, reply, content_type = receiver._handle(
                    self.path, body, self.headers.get("Authorization", "")
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def do_GET(self) -> None:
                with receiver._lock:
                    receiver.paths.append(self.path)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return  # quiet: the test output stays readable

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def raw_text(self) -> str:
        """Every body received, decoded leniently, plus every decoded span, for searches."""
        with self._lock:
            bodies = [b.decode("utf-8", "replace") for b in self.raw_bodies]
            spans = [s.text() for s in self.spans]
            scores = [json.dumps(s, ensure_ascii=False) for s in self.scores]
        return "\n".join([*bodies, *spans, *scores])

    def spans_named(self, name: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.name == name]

    def _handle(self, path: str, body: bytes, authorization: str) -> tuple[int, bytes, str]:
        with self._lock:
            self.raw_bodies.append(body)
            self.paths.append(path)
            self.authorizations.append(authorization)
        if path == OTLP_TRACES_PATH:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            spans = [
                ReceivedSpan(
                    name=span.name,
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    attributes={kv.key: _value(kv.value) for kv in span.attributes},
                    events=[
                        (e.name, {kv.key: _value(kv.value) for kv in e.attributes})
                        for e in span.events
                    ],
                    status_message=span.status.message,
                    scope_attributes={kv.key: _value(kv.value) for kv in scoped.scope.attributes},
                )
                for resource_spans in request.resource_spans
                for scoped in resource_spans.scope_spans
                for span in scoped.spans
            ]
            with self._lock:
                self.spans.extend(spans)
            return 200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf"
        if path == SCORES_PATH:
            batch = json.loads(body)
            with self._lock:
                self.scores.extend(batch if isinstance(batch, list) else [batch])
            return 202, b'{"message": "Accepted"}', "application/json"
        return 404, b"{}", "application/json"


@contextmanager
def running_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
