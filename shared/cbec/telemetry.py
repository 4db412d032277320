"""Tracing with OpenTelemetry: one span per handled message, the W3C trace context carried in Kafka
headers and in each stored event's metadata, so a clearance can be followed from intake to receipt."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACE_HEADERS = ("traceparent", "tracestate")
_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("cbec")


_installed: list[TracerProvider] = []


def console_exporter(setting: str) -> SpanExporter | None:
    """The exporter ``CBEC_OTEL_EXPORTER`` names (``console`` prints finished spans), if any."""
    return ConsoleSpanExporter() if setting == "console" else None


def configure_tracing(service: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Install the process's tracer provider, once: a later call returns the one installed (the bootstrap
    installs it with the configured exporter before the process runtime asks again)."""
    if _installed:
        return _installed[0]
    provider = TracerProvider(resource=Resource.create({"service.name": f"cbec-{service}"}))
    _installed.append(provider)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def current_headers() -> dict[str, str]:
    """The current trace context as W3C headers (empty outside a recorded span)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return {k: v for k, v in carrier.items() if k in TRACE_HEADERS}


@contextmanager
def consuming(topic: str, partition: int, offset: int, headers: Mapping[str, str]) -> Iterator[trace.Span]:
    """A consumer span for one message, child of the trace its producer carried in the headers."""
    parent = _propagator.extract({k: v for k, v in headers.items() if k in TRACE_HEADERS})
    token = context.attach(parent)
    try:
        with _tracer.start_as_current_span(f"{topic} process", kind=trace.SpanKind.CONSUMER, attributes={
            "messaging.system": "kafka", "messaging.destination.name": topic,
            "messaging.kafka.destination.partition": partition, "messaging.kafka.message.offset": offset,
        }) as span:
            yield span
    finally:
        context.detach(token)
