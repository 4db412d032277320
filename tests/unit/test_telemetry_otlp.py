"""Spans leave the process by OTLP/HTTP when the standard OTEL_* variables name a collector."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cbec.settings import Settings
from cbec.telemetry import exporter_for, otlp_traces_url, tracer_provider
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import ConsoleSpanExporter


class Collector(ThreadingHTTPServer):
    """A fake OTLP/HTTP receiver: keeps each export request it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.received: list[tuple[str, ExportTraceServiceRequest]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.received.append((self.path, request))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_spans_reach_the_collector_the_standard_variables_name(collector: Collector) -> None:
    settings = Settings.from_environ({"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
                                      "OTEL_SERVICE_NAME": "cbec-saga-eu"})
    exporter = exporter_for(settings.telemetry)
    assert isinstance(exporter, OTLPSpanExporter)
    provider = tracer_provider("saga", exporter, settings.telemetry)
    with provider.get_tracer("test").start_as_current_span("cbec.in.order process"):
        pass
    assert provider.force_flush(10_000)
    provider.shutdown()

    [(path, request)] = collector.received
    assert path == "/v1/traces"
    [spans] = request.resource_spans
    resource = {a.key: a.value.string_value for a in spans.resource.attributes}
    assert resource["service.name"] == "cbec-saga-eu"
    assert [s.name for scope in spans.scope_spans for s in scope.spans] == ["cbec.in.order process"]


def test_without_an_endpoint_nothing_is_exported_and_the_service_is_named_after_itself() -> None:
    settings = Settings.from_environ({})
    assert exporter_for(settings.telemetry) is None
    provider = tracer_provider("order", None, settings.telemetry)
    assert provider.resource.attributes["service.name"] == "cbec-order"


@pytest.mark.parametrize(("environ", "expected"), [
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318/"}, "http://otel:4318/v1/traces"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/x"},
     "http://t:1/x"),
])
def test_the_traces_url_follows_the_specification(environ: dict[str, str], expected: str) -> None:
    assert otlp_traces_url(Settings.from_environ(environ).telemetry) == expected


@pytest.mark.parametrize("environ", [
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", "OTEL_SDK_DISABLED": "true"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", "OTEL_TRACES_EXPORTER": "none"},
])
def test_export_can_be_switched_off(environ: dict[str, str]) -> None:
    assert exporter_for(Settings.from_environ(environ).telemetry) is None


def test_console_export_as_before() -> None:
    assert isinstance(exporter_for(Settings.from_environ({"CBEC_OTEL_EXPORTER": "console"}).telemetry),
                      ConsoleSpanExporter)
