"""One clearance, one trace, on real parts: Kafka, Postgres, every service and the customs simulator as
processes, each exporting its spans over OTLP/HTTP (the standard ``OTEL_*`` variables) to a collector
played by this test. The enterprise system declares the clearance inside one span; every service's spans
of that clearance (intake, saga, signer, customs link, receipts) belong to that trace."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cbec.contracts.commands import INTAKE_TOPICS
from cbec.declaration.doctypes import BY_CODE
from cbec.signing.certs import generate_sm2_identity
from cbec.store.event_store import EventStore
from cbec_testkit.samples import declare_clearance
from cbec_testkit.tenants import DEMO_TENANTS
from kafka import KafkaProducer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from saga_service import domain
from saga_service.application import stream_of
from service_processes import CbecUpStack, fast_forward, process_env

pytestmark = pytest.mark.integration

PROCESSES = ("order", "payment", "logistics", "inventory", "signer", "receipts", "saga", "simulator")
TRACED = {"cbec-order", "cbec-payment", "cbec-logistics", "cbec-inventory", "cbec-signer", "cbec-receipts",
          "cbec-saga"}
TRACE = "5a8ef5f3c1b24f0e9d7c6b5a49382716"
TRACEPARENT = f"00-{TRACE}-1f2e3d4c5b6a7988-01"


class Collector:
    """An OTLP/HTTP trace receiver: (trace id, span name, service name) of every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        collector = self

        class Receive(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                collector.add(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Receive)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                service = attributes.get("service.name", "")
                for scope in resource_spans.scope_spans:
                    self.spans += [(s.trace_id.hex(), s.name, service) for s in scope.spans]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def collector() -> Iterator[Collector]:
    received = Collector()
    received.thread.start()
    try:
        yield received
    finally:
        received.server.shutdown()
        received.server.server_close()


@pytest.fixture
def processes(kafka_bootstrap: str, database_url: str, tmp_path: Path, collector: Collector) -> Iterator[CbecUpStack]:
    fast_forward(kafka_bootstrap)
    keys = tmp_path / "keys"
    keys.mkdir()
    registry = []
    for tenant in DEMO_TENANTS:
        code = tenant["customsCode"]
        key_pem, cert_pem = generate_sm2_identity(code, tenant["name"])
        (keys / f"{code}.key").write_bytes(key_pem)
        (keys / f"{code}.cer").write_bytes(cert_pem)
        registry.append({"customs_code": code, "key_pem": str(keys / f"{code}.key"),
                         "cert_pem": str(keys / f"{code}.cer")})
    (keys / "tenants.json").write_text(json.dumps(registry), encoding="utf-8")
    env = process_env(kafka_bootstrap, database_url, tmp_path, CBEC_SIMULATOR_DELAY="0.2", CBEC_TOPIC_PARTITIONS="2",
                      CBEC_SAGA_RECEIPT_TIMEOUT="60", CBEC_SIGNER_TENANTS_FILE=str(keys / "tenants.json"),
                      CBEC_SIGNER_BACKEND="software", OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
                      OTEL_BSP_SCHEDULE_DELAY="200")
    running = CbecUpStack(env, tmp_path)
    try:
        running.up(*PROCESSES)
        yield running
    finally:
        running.down()


def test_a_clearance_declared_in_one_span_is_one_trace_across_the_service_processes(
        processes: CbecUpStack, collector: Collector, kafka_bootstrap: str, database_url: str) -> None:
    commands = declare_clearance(int(time.time()) % 1_000_000)
    topics = {code: topic for topic, code in INTAKE_TOPICS.items()}
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for command in commands:  # what an ERP's instrumented producer sends: its span's context in the headers
        key = ":".join(BY_CODE[command.doc_type].business_key(command.document))
        producer.send(topics[command.doc_type], key=key.encode(), value=command.to_json(),
                      headers=[("traceparent", TRACEPARENT.encode())])
    producer.flush()
    producer.close()

    head = commands[0].document["OrderHead"]
    clearance = f"{head['ebpCode']}:{head['orderNo']}"
    store = EventStore.open(database_url, schema=processes.schema_prefix + "saga", name="saga")
    deadline = time.monotonic() + 240
    released = False
    while time.monotonic() < deadline and not released:
        state = domain.fold(clearance, [(e.type, e.data) for e in store.read(stream_of(clearance))])
        released = state.docs.get("inventory") is not None and state.docs["inventory"].status_code == 800
        time.sleep(1.0)
    store.close()
    if not released:
        pytest.fail(f"the clearance was not released\n{processes.tails()}", pytrace=False)
    stopped = processes.down()  # each process hands its last spans to the exporter as it stops
    assert all(f"{name}: stopped" in stopped for name in PROCESSES), (stopped, processes.tails())

    spans = list(collector.spans)
    ours = [(name, service) for trace_id, name, service in spans if trace_id == TRACE]
    others = Counter((name, service) for trace_id, name, service in spans if trace_id != TRACE)
    assert not others, f"spans outside the clearance's trace: {others}"
    assert {service for _, service in ours} == TRACED
    names = Counter(name for name, _ in ours)
    for hop in ("cbec.in.order process", "cbec.feedback.logistics.saga-commands process", "cbec.sign.requests process",
                "cbec.sign.results process", "cbec.feedback.inventory.transmissions process", "customs receipt",
                "cbec.feedback.inventory.receipts process"):
        assert names[hop] >= 1, f"no {hop} span in the trace: {names}"
