"""A clearance can be followed across services: the trace context rides in Kafka headers and in events."""

from __future__ import annotations

import uuid

import pytest
from cbec.bus.in_process import InProcessBus
from cbec.bus.ports import Message
from cbec.declaration.bus_glue import bus_handler
from cbec.declaration.ports import Position
from cbec.store.event_store import EventStore
from cbec.store.events import NewEvent
from cbec.store.outbox import OutboxRelay
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = {"traceparent": f"00-{INCOMING_TRACE}-00f067aa0ba902b7-01"}


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def test_a_handled_message_continues_the_trace_its_producer_started(spans: InMemorySpanExporter) -> None:
    seen: list[Position] = []
    handle = bus_handler("order", {"cbec.in.order": lambda raw, position: seen.append(position)})
    handle(Message("cbec.in.order", 0, 7, "E:1", b"{}", INCOMING))
    assert seen
    span = spans.get_finished_spans()[-1]
    assert f"{span.context.trace_id:032x}" == INCOMING_TRACE
    assert span.parent is not None and f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert span.attributes is not None and span.attributes["messaging.kafka.message.offset"] == 7


def test_events_stored_while_handling_carry_the_trace_to_the_relayed_message(spans: InMemorySpanExporter) -> None:
    store = EventStore.open("sqlite:///:memory:", schema="order", name="order")
    stream = uuid.uuid4()

    def store_an_event(raw: bytes, position: Position) -> None:
        store.append(stream, 0, [NewEvent("DocumentReceived", {"clearanceKey": "E:1"})])

    bus_handler("order", {"cbec.in.order": store_an_event})(Message("cbec.in.order", 0, 1, "E:1", b"{}", INCOMING))
    bus = InProcessBus()
    relay = OutboxRelay(store, bus, name="order", route=lambda e: [("cbec.order.events", "E:1", b"{}")])
    assert relay.run_once() == 1
    [published] = bus.messages("cbec.order.events")
    assert published.headers["traceparent"].split("-")[1] == INCOMING_TRACE
    store.close()


def test_events_stored_outside_any_trace_carry_no_trace_headers() -> None:
    store = EventStore.open("sqlite:///:memory:", schema="order", name="order")
    stream = uuid.uuid4()
    store.append(stream, 0, [NewEvent("DocumentReceived", {})])
    assert store.read(stream)[0].metadata == {}
    store.close()


def test_a_batch_of_messages_stores_each_ones_events_under_its_own_trace(spans: InMemorySpanExporter) -> None:
    from cbec.declaration.batching import BatchingDeclarations
    from cbec.declaration.ports import Position, StreamAppend
    from cbec.telemetry import consuming

    store = EventStore.open("sqlite:///:memory:", schema="order", name="order")
    batching = BatchingDeclarations(store)
    other = "0af7651916cd43dd8448eb211c80319c"
    messages = [(uuid.uuid4(), INCOMING), (uuid.uuid4(), {"traceparent": f"00-{other}-b7ad6b7169203331-01"})]
    with batching.batch("cbec.in.order:0"):
        for offset, (stream, headers) in enumerate(messages, start=1):
            with consuming("cbec.in.order", 0, offset, headers):
                batching.append_batch([StreamAppend(stream, 0, [("DocumentReceived", {})])],
                                      Position("cbec.in.order:0", offset))
    # committed after both spans ended, yet each event names the trace of the message it came from
    assert [store.read(s)[0].metadata["traceparent"].split("-")[1] for s, _ in messages] == [INCOMING_TRACE, other]
    store.close()


def test_recent_traces_keep_the_latest_context_per_key_within_their_size(spans: InMemorySpanExporter) -> None:
    from cbec.telemetry import RecentTraces, continuing

    traces = RecentTraces(size=2)
    traces.remember("CEB311:a")  # outside any span: nothing to keep
    assert traces.get("CEB311:a") == {}
    with continuing(INCOMING, "sent"):
        traces.remember("CEB311:a")
    traces.remember("CEB411:b", {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    with continuing(traces.get("CEB311:a"), "customs receipt") as receipt:
        assert f"{receipt.get_span_context().trace_id:032x}" == INCOMING_TRACE
    traces.remember("CEB511:c", {"traceparent": "00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    assert traces.get("CEB311:a") == {} and traces.get("CEB411:b") and traces.get("CEB511:c")  # the oldest went
