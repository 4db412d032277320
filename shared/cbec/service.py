"""A service as its bootstrap builds it, whatever the broker: what it consumes, what its outbox
publishes, what it polls. :func:`as_process` runs it on Kafka (``cbec run``); :func:`attach` puts it
on an in-process bus (the embedded demo and tests)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cbec import production
from cbec.bus.aio_kafka import AioKafkaPublisher
from cbec.bus.in_process import InProcessBus
from cbec.bus.kafka import KafkaConsumerLoop, ensure_topics
from cbec.bus.limits import dead_letter_limit
from cbec.bus.ports import BatchHandler, DeadLetter, Handler, Subscription
from cbec.bus.security import client_options
from cbec.health import Heartbeat
from cbec.metrics import Instrumented, outbox_backlog
from cbec.runtime import Paced, ServiceProcess
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.store.leases import lease_for
from cbec.store.outbox import OutboxRelay, TooLarge
from cbec.telemetry import configure_tracing, exporter_for

Poller = Callable[[], int]
Route = Callable[[RecordedEvent], list[tuple[str, str, bytes]]]


@dataclass(frozen=True)
class Consumes:
    """One consumer group of the service: a handler per message or per batch, and where its poison
    messages go (``cbec.bus.poison``; without one a failing message is retried for ever)."""

    subscription: Subscription
    handler: Handler | None = None
    batch_handler: BatchHandler | None = None
    dead_letter: DeadLetter | None = None


@dataclass(frozen=True)
class Outbox:
    """The service's store, how its events become messages, and what replaces a message above the
    size limit (``OutboxRelay``; by default it is logged and left out)."""

    store: EventStore
    name: str
    route: Route
    too_large: TooLarge | None = None


@dataclass
class Service:
    """One service's parts; ``app`` is its application object (for the demo and tests)."""

    name: str
    app: Any
    consumes: list[Consumes] = field(default_factory=list)
    outboxes: list[Outbox] = field(default_factory=list)
    pollers: list[Poller | Paced] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # every topic it reads or writes
    http_app: Any = None
    extras: dict[str, Any] = field(default_factory=dict)  # more parts worth naming (e.g. the webhooks)
    on_close: list[Callable[[], object]] = field(default_factory=list)  # e.g. a leased poller's lease
    collectors: list[Any] = field(default_factory=list)  # Prometheus collectors of its own (cbec.metrics)


def create_topics(service: Service, settings: Settings, client: dict[str, Any]) -> list[str]:
    """Create the topics the service writes and reads that are missing (none with
    ``CBEC_KAFKA_CREATE_TOPICS=0``: a platform team's operator owns them); return those created."""
    if not settings.kafka.create_topics:
        return []
    topics = [*service.topics, *(t for c in service.consumes for t in c.subscription.topics)]
    return ensure_topics(settings.kafka.bootstrap_servers, topics, settings.kafka.topic_partitions,
                         max_message_bytes=settings.kafka.max_message_bytes, **client)


def as_process(service: Service, settings: Settings) -> ServiceProcess:
    """The service on Kafka: its topics created, one consumer loop per group, one relay per outbox (which
    publishes only while it holds the outbox's lease, so replicas of the service never both publish).
    Each consumer's handlers are counted (``cbec.metrics``) and beat its liveness heartbeat."""
    configure_tracing(service.name, exporter_for(settings.telemetry), settings.telemetry)
    # Loaded now, not inside the first consumer batch (where its ~0.3 s of imports delayed the first
    # messages of the customs link, which nothing else made import it at start).
    importlib.import_module("cbec.contracts.schema_check")
    production.require(settings, production.kafka_problems(settings))
    bootstrap = settings.kafka.bootstrap_servers
    client, aio_client = client_options(settings.kafka), client_options(settings.kafka, "aiokafka")
    limit = settings.kafka.max_message_bytes
    create_topics(service, settings, client)
    heartbeats = [Heartbeat(f"consumer-{c.subscription.group}") for c in service.consumes]
    counted = [Instrumented(service.name, beat) for beat in heartbeats]
    consumers = [KafkaConsumerLoop(bootstrap, c.subscription, n.handler(c.handler),
                                   batch_handler=n.batch_handler(c.batch_handler),
                                   dead_letter=n.dead_letter(c.dead_letter),
                                   max_attempts=settings.kafka.poison_attempts,
                                   fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,
                                   heartbeat_interval_ms=settings.kafka.heartbeat_interval_ms,
                                   poll_timeout=settings.kafka.poll_timeout,
                                   max_partition_fetch_bytes=dead_letter_limit(limit), **client)
                 for c, n in zip(service.consumes, counted, strict=True)]
    relays = [OutboxRelay(o.store, AioKafkaPublisher(bootstrap, client_id=f"cbec-{service.name}",
                                                     max_request_size=dead_letter_limit(limit), **aio_client),
                          name=o.name, route=o.route, max_message_bytes=limit, too_large=o.too_large,
                          lease=lease_for(o.store, f"outbox:{o.name}", listen=True))
              for o in service.outboxes]
    process = settings.process
    return ServiceProcess(
        service.name,
        consumers=consumers,
        relays=relays,
        pollers=service.pollers,
        http_app=service.http_app,
        http_port=process.http_port,
        http_host=process.http_host,
        ready_file=process.ready_file,
        poll_interval=process.poll_interval,
        health_check=lambda: [o.store.max_notification_id() for o in service.outboxes],
        on_close=[*service.on_close, *(o.store.close for o in service.outboxes)],
        heartbeats=heartbeats,
        stall_after=process.stall_after,
        collectors=[outbox_backlog([(r, o.store) for r, o in zip(relays, service.outboxes, strict=True)]),
                    *service.collectors],
        shutdown_timeout=process.shutdown_timeout,
        close_timeout=process.close_timeout,
    )


def attach(service: Service, bus: InProcessBus, settings: Settings | None = None) -> list[OutboxRelay]:
    """The service on an in-process bus; returns its relays (step them with ``run_once``). Poison
    messages and the size limit are handled as on Kafka (three attempts and no limit without ``settings``)."""
    for c in service.consumes:
        bus.consumer(c.subscription, c.handler, batch_handler=c.batch_handler, dead_letter=c.dead_letter,
                     max_attempts=settings.kafka.poison_attempts if settings else 3)
    limit = settings.kafka.max_message_bytes if settings else None
    return [OutboxRelay(o.store, bus, name=o.name, route=o.route, max_message_bytes=limit, too_large=o.too_large)
            for o in service.outboxes]
