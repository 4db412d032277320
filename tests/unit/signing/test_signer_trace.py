"""The signer's results continue the trace of their request: a span of the signer's, child of the
requester's, whose context rides in the result's headers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from cbec.contracts import topics
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from signer_service.worker import _traced

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture(autouse=True)
def recording() -> None:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())


@dataclass
class Record:
    """What aiokafka yields for a sign request (the fields the worker reads)."""

    topic: str = topics.SIGN_REQUESTS
    partition: int = 0
    offset: int = 9
    headers: list[tuple[str, bytes]] = field(default_factory=lambda: [
        ("traceparent", f"00-{TRACE}-{PARENT}-01".encode()), ("x-other", b"not a trace header")])


def test_the_results_of_a_request_continue_its_trace() -> None:
    headers = dict(_traced(Record()))
    assert set(headers) == {"traceparent"}
    _, trace_id, span_id, _ = headers["traceparent"].decode().split("-")
    assert (trace_id, span_id != PARENT) == (TRACE, True)


def test_a_request_without_a_trace_starts_one() -> None:
    headers = dict(_traced(Record(headers=[])))
    assert headers["traceparent"].decode().split("-")[1] != TRACE
