"""A service as its bootstrap builds it, whatever the broker: what it consumes, what its outbox
publishes, what it polls. :func:`as_process` runs it on Kafka (``cbec run``); :func:`attach` puts it
on an in-process bus (the embedded demo and tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cbec import production
from cbec.bus.aio_kafka import AioKafkaPublisher
from cbec.bus.in_process import InProcessBus
from cbec.bus.kafka import KafkaConsumerLoop, ensure_topics
from cbec.bus.ports import BatchHandler, Handler, Subscription
from cbec.bus.security import client_options
from cbec.runtime import ServiceProcess
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.store.outbox import OutboxRelay
from cbec.telemetry import configure_tracing, console_exporter

Poller = Callable[[], int]
Route = Callable[[RecordedEvent], list[tuple[str, str, bytes]]]


@dataclass(frozen=True)
class Consumes:
    """One consumer group of the service: a handler per message or per batch."""

    subscription: Subscription
    handler: Handler | None = None
    batch_handler: BatchHandler | None = None


@dataclass(frozen=True)
class Outbox:
    """The service's store and how its events become messages."""

    store: EventStore
    name: str
    route: Route


@dataclass
class Service:
    """One service's parts; ``app`` is its application object (for the demo and tests)."""

    name: str
    app: Any
    consumes: list[Consumes] = field(default_factory=list)
    outboxes: list[Outbox] = field(default_factory=list)
    pollers: list[Poller] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # every topic it reads or writes
    http_app: Any = None
    extras: dict[str, Any] = field(default_factory=dict)  # more parts worth naming (e.g. the webhooks)


def as_process(service: Service, settings: Settings) -> ServiceProcess:
    """The service on Kafka: its topics created, one consumer loop per group, one relay per outbox."""
    configure_tracing(service.name, console_exporter(settings.telemetry.otel_exporter))
    production.require(settings, production.kafka_problems(settings))
    bootstrap = settings.kafka.bootstrap_servers
    client, aio_client = client_options(settings.kafka), client_options(settings.kafka, "aiokafka")
    topics = [*service.topics, *(t for c in service.consumes for t in c.subscription.topics)]
    ensure_topics(bootstrap, topics, settings.kafka.topic_partitions, **client)
    consumers = [KafkaConsumerLoop(bootstrap, c.subscription, c.handler, batch_handler=c.batch_handler, **client)
                 for c in service.consumes]
    relays = [OutboxRelay(o.store, AioKafkaPublisher(bootstrap, client_id=f"cbec-{service.name}", **aio_client),
                          name=o.name, route=o.route) for o in service.outboxes]
    return ServiceProcess(
        service.name,
        consumers=consumers,
        relays=relays,
        pollers=service.pollers,
        http_app=service.http_app,
        http_port=settings.process.http_port,
        http_host=settings.process.http_host,
        ready_file=settings.process.ready_file,
        poll_interval=settings.process.poll_interval,
        health_check=lambda: [o.store.max_notification_id() for o in service.outboxes],
        on_close=[o.store.close for o in service.outboxes],
    )


def attach(service: Service, bus: InProcessBus) -> list[OutboxRelay]:
    """The service on an in-process bus; returns its relays (step them with ``run_once``)."""
    for c in service.consumes:
        bus.consumer(c.subscription, c.handler, batch_handler=c.batch_handler)
    return [OutboxRelay(o.store, bus, name=o.name, route=o.route) for o in service.outboxes]
