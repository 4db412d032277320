"""On real Kafka and Postgres, `cbec run` processes serve their probes and metrics on their one port,
export spans to the OTLP collector the standard variables name, and drain on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from service_processes import fast_forward, process_env

pytestmark = pytest.mark.integration

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class Collector(ThreadingHTTPServer):
    """A fake OTLP/HTTP receiver: the trace ids and service names of the spans it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.spans: list[tuple[str, str]] = []


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        for resource in request.resource_spans:
            name = next(a.value.string_value for a in resource.resource.attributes if a.key == "service.name")
            self.server.spans += [(s.trace_id.hex(), name) for scope in resource.scope_spans for s in scope.spans]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def eventually(condition: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.1)


def status(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return 0


def start(service: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as output:
        return subprocess.Popen([sys.executable, "-m", "cbec_cli.main", "run", service], env=env, stdout=output,
                                stderr=subprocess.STDOUT)


def test_a_service_with_an_api_serves_probes_metrics_and_traces_then_drains(
        kafka_bootstrap: str, database_url: str, tmp_path: Path, collector: Collector) -> None:
    fast_forward(kafka_bootstrap, ("cbec-order",))
    port = free_port()
    env = process_env(kafka_bootstrap, database_url, tmp_path, CBEC_HTTP_PORT=str(port),
                      OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector.server_address[1]}",
                      OTEL_SERVICE_NAME="cbec-order-probed", OTEL_BSP_SCHEDULE_DELAY="200",
                      CBEC_SHUTDOWN_GRACE="15")
    log = tmp_path / "order.log"
    proc = start("order", env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: status(base + "/readyz") == 200, proc, log)
        assert status(base + "/livez") == 200
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        producer.send("cbec.in.order", key=b"E:1", value=b"{}",
                      headers=[("traceparent", f"00-{TRACE}-00f067aa0ba902b7-01".encode())]).get(timeout=30)
        producer.close()
        handled = 'cbec_messages_handled_total{service="order",topic="cbec.in.order"} 1.0'
        eventually(lambda: handled in httpx.get(base + "/metrics").text, proc, log, timeout=60)
        sampled = ('cbec_outbox_backlog{outbox="', 'cbec_consumer_lag{group="cbec-order"')  # every 10 s
        eventually(lambda: all(m in httpx.get(base + "/metrics").text for m in sampled), proc, log, timeout=30)
        eventually(lambda: (TRACE, "cbec-order-probed") in collector.spans, proc, log, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = proc.wait(timeout=30)
    assert code == 0 and time.monotonic() - started < 15, log.read_text(errors="replace")[-3000:]
    assert "metrics: reading" not in log.read_text(errors="replace")


def test_a_service_without_an_api_serves_the_probes_alone(
        kafka_bootstrap: str, database_url: str, tmp_path: Path) -> None:
    fast_forward(kafka_bootstrap, ("cbec-receipts",))
    port = free_port()
    env = process_env(kafka_bootstrap, database_url, tmp_path, CBEC_HTTP_PORT=str(port))
    log = tmp_path / "receipts.log"
    proc = start("receipts", env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: status(base + "/readyz") == 200, proc, log)
        assert httpx.get(base + "/livez").json() == {"status": "ok"}
        assert "cbec_loop_busy_seconds" in httpx.get(base + "/metrics").text
        assert status(base + "/openapi.json") == 404  # nothing but the probes
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=40)
    assert code == 0, log.read_text(errors="replace")[-3000:]
