"""Tracing with OpenTelemetry: one span per handled message, the W3C trace context carried in Kafka
headers and in each stored event's metadata, so a clearance can be followed from intake to receipt.

Export follows the standard variables: with ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``)
spans go to an OTLP/HTTP collector (``opentelemetry-exporter-otlp-proto-http``); ``OTEL_TRACES_EXPORTER``
``console`` (or ``CBEC_OTEL_EXPORTER=console``) prints them, ``none`` or ``OTEL_SDK_DISABLED=true``
exports nothing. The sampler is the SDK's, from ``OTEL_TRACES_SAMPLER``/``..._ARG`` (default: parent
based, always on)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from cbec.settings import TelemetrySettings

log = logging.getLogger(__name__)

TRACE_HEADERS = ("traceparent", "tracestate")
_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("cbec")
_resolved: list[tuple[object, trace.Tracer]] = []  # (the provider, its tracer), once a provider is set


def _span_tracer() -> trace.Tracer:
    """The installed provider's own tracer, resolved once per provider: ``_tracer`` is a proxy (a
    provider may be installed after import) that wraps every span in one more context manager."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider):
        return _tracer
    if not _resolved or _resolved[0][0] is not provider:
        _resolved[:] = [(provider, provider.get_tracer("cbec"))]
    return _resolved[0][1]


def _parent(headers: Mapping[str, str]) -> context.Context:
    return _propagator.extract({k: v for k, v in headers.items() if k in TRACE_HEADERS})


_installed: list[TracerProvider] = []


def otlp_traces_url(settings: TelemetrySettings) -> str:
    """Where OTLP/HTTP spans go: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as given, else
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces`` (the specification's rule); "" for none."""
    if settings.otlp_traces_endpoint:
        return settings.otlp_traces_endpoint
    if settings.otlp_endpoint:
        return settings.otlp_endpoint.rstrip("/") + "/v1/traces"
    return ""


def exporter_for(settings: TelemetrySettings) -> SpanExporter | None:
    """The span exporter the settings ask for, if any (see the module docstring)."""
    kind = settings.traces_exporter.strip().lower()
    if settings.sdk_disabled or kind == "none":
        return None
    if kind == "console" or settings.otel_exporter == "console":
        return ConsoleSpanExporter()
    url = otlp_traces_url(settings)
    if not url:
        if kind == "otlp":
            log.warning("telemetry: OTEL_TRACES_EXPORTER=otlp without OTEL_EXPORTER_OTLP_ENDPOINT; not exporting")
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=url)


def tracer_provider(service: str, exporter: SpanExporter | None = None,
                    settings: TelemetrySettings | None = None) -> TracerProvider:
    """A provider for ``service`` (``OTEL_SERVICE_NAME`` or ``cbec-<service>``) exporting to ``exporter``."""
    name = (settings.service_name if settings is not None else "") or f"cbec-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure_tracing(service: str, exporter: SpanExporter | None = None,
                      settings: TelemetrySettings | None = None) -> TracerProvider:
    """Install the process's tracer provider, once: a later call returns the one installed (the bootstrap
    installs it with the configured exporter before the process runtime asks again)."""
    if _installed:
        return _installed[0]
    provider = tracer_provider(service, exporter, settings)
    _installed.append(provider)
    trace.set_tracer_provider(provider)
    return provider


def flush_tracing(timeout: float = 5.0) -> None:
    """Hand the finished spans to the exporter before the process exits (at most ``timeout`` seconds)."""
    for provider in _installed:
        provider.force_flush(int(timeout * 1000))


def current_headers() -> dict[str, str]:
    """The current trace context as W3C headers (empty outside a recorded span)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return {k: v for k, v in carrier.items() if k in TRACE_HEADERS}


@contextmanager
def consuming(topic: str, partition: int, offset: int, headers: Mapping[str, str]) -> Iterator[trace.Span]:
    """A consumer span for one message, child of the trace its producer carried in the headers.

    Started on the provider's tracer with the parent given, not attached first: one context switch and
    two context managers less per message than ``start_as_current_span`` on the proxy."""
    span = _span_tracer().start_span(f"{topic} process", context=_parent(headers), kind=trace.SpanKind.CONSUMER,
                                     attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                                                 "messaging.kafka.destination.partition": partition,
                                                 "messaging.kafka.message.offset": offset})
    with trace.use_span(span, end_on_exit=True):
        yield span


@contextmanager
def continuing(headers: Mapping[str, str], name: str) -> Iterator[trace.Span]:
    """A span ``name`` continuing the trace in ``headers`` (W3C ``traceparent``; a new trace without one):
    for work that picks up a document's trace from a store rather than from the message it handles."""
    with trace.use_span(_span_tracer().start_span(name, context=_parent(headers)), end_on_exit=True) as span:
        yield span


class RecentTraces:
    """The trace context of the latest work on each key (e.g. a document sent to customs), kept in memory
    for the last ``size`` keys, so a later event about the same key (its receipt) continues that trace.
    Only a hint: after a restart or on another replica the later work starts a trace of its own."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._traces: OrderedDict[str, dict[str, str]] = OrderedDict()

    def remember(self, key: str, headers: Mapping[str, str] | None = None) -> None:
        """Keep ``headers`` (default: the current trace context) for ``key``; nothing outside a trace."""
        found = dict(headers) if headers is not None else current_headers()
        if not found.get("traceparent"):
            return
        with self._lock:
            self._traces[key] = found
            self._traces.move_to_end(key)
            while len(self._traces) > self._size:
                self._traces.popitem(last=False)

    def get(self, key: str) -> dict[str, str]:
        with self._lock:
            return dict(self._traces.get(key, {}))
