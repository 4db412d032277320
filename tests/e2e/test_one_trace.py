"""One clearance, one trace: the enterprise system declares its four documents inside one span, and every
hop after it (intake in the owning services, the saga's decisions, the signer, the customs link's
transmission, customs' receipts and their recording) continues that trace: through Kafka headers, the
events each service stores and the outbox that relays them, and the customs link's memory of what it sent."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from cbec.contracts.commands import INTAKE_TOPICS
from cbec.declaration.doctypes import BY_CODE
from cbec.telemetry import current_headers
from cbec_testkit.embedded import EmbeddedStack
from cbec_testkit.samples import declare_clearance
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = pytest.mark.e2e

KEY = "3105960001:DEMO00000001"


@pytest.fixture
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def trace_of(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def test_a_clearance_declared_in_one_span_is_followed_by_one_trace_to_customs_and_back(
        tmp_path: Path, spans: InMemorySpanExporter) -> None:
    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp")
    try:
        with trace.get_tracer("erp").start_as_current_span("erp declares a clearance") as erp:
            for command in declare_clearance(1):  # as a Kafka producer with OTel would: the context in headers
                topic = {code: name for name, code in INTAKE_TOPICS.items()}[command.doc_type]
                key = ":".join(BY_CODE[command.doc_type].business_key(command.document))
                stack.bus.publish(topic, key, command.to_json(), current_headers())
        for _ in range(100):
            stack.step()
            if stack.saga.view(KEY)["documents"].get("inventory", {}).get("statusCode") == 800:
                break
        assert stack.saga.view(KEY)["documents"]["inventory"]["statusCode"] == 800
        stored = [(name, e) for name, service in stack.services.items() for outbox in service.outboxes
                  for e in outbox.store.notifications(1, 10_000)]
    finally:
        stack.close()

    the_trace = f"{erp.get_span_context().trace_id:032x}"
    finished = spans.get_finished_spans()
    assert {trace_of(s) for s in finished} == {the_trace}, "every span of the clearance is in the ERP's trace"
    hops = Counter(s.name for s in finished)
    expected = {
        "intake": "cbec.in.order process",
        "the saga's command to the logistics service": "cbec.feedback.logistics.saga-commands process",
        "the signer": "cbec.sign.requests process",
        "the customs link sending": "cbec.sign.results process",
        "the transmission told to the owner": "cbec.feedback.inventory.transmissions process",
        "customs' receipt recorded by the link": "customs receipt",
        "the receipt told to the owner": "cbec.feedback.inventory.receipts process",
    }
    for hop, name in expected.items():
        assert hops[name] >= 1, f"no span for {hop} ({name})"
    # every event any service stored (the saga's decisions included) carries the same trace to its relay
    untraced = [(name, e.type) for name, e in stored
                if e.metadata.get("traceparent", "").split("-")[1:2] != [the_trace]]
    assert not untraced
    assert {name for name, _ in stored} >= {"order", "payment", "logistics", "inventory", "saga", "receipts"}
