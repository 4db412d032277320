"""One trace from intake to receipts: the saga continues the trace of the event it acts on (a span of its
own, child of the producer's), so the commands and statuses it decides carry it on."""

from __future__ import annotations

import uuid

import pytest
from cbec.bus.ports import Message
from cbec.contracts import topics
from cbec.contracts.events import DeclarationEvent, DocumentReceived
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from saga_story import CONTENT_HASH, Story, sender_of

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
INCOMING = {"traceparent": f"00-{TRACE}-{PARENT}-01"}


@pytest.fixture(autouse=True)
def recording() -> None:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())


def test_the_saga_carries_the_trace_of_the_event_it_acted_on_into_what_it_decides() -> None:
    story = Story()
    payload = DocumentReceived(**story.about("CEB311"), sender=sender_of("CEB311"), command_id="declare-order",
                               content_hash=CONTENT_HASH)
    event = DeclarationEvent.of(uuid.uuid4(), 1, payload.TYPE, payload.to_dict())
    story.saga.handle_batch([Message(topics.events("order"), 0, 0, story.key, event.to_json(), INCOMING)])
    decided = story.store.notifications(1, 100)
    assert decided
    for recorded in decided:
        _, trace_id, span_id, _ = recorded.metadata["traceparent"].split("-")
        assert (trace_id, span_id != PARENT) == (TRACE, True)  # the same trace, the saga's own span
