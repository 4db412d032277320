"""Run a declaration service (order, payment, logistics, inventory) as a process on Kafka and Postgres."""

from __future__ import annotations

from collections.abc import Callable

from cbec.bus.aio_kafka import AioKafkaPublisher
from cbec.bus.kafka import KafkaConsumerLoop, ensure_topics
from cbec.bus.ports import Subscription
from cbec.declaration import ceb_bridge, routing
from cbec.declaration.application import DeclarationApp
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.dispatch import handlers
from cbec.declaration.doctypes import DocType
from cbec.declaration.http import make_http_app
from cbec.declaration.lifecycle import Declaration
from cbec.declaration.ports import DeclarationStore
from cbec.runtime import ServiceProcess
from cbec.settings import Settings, schema_for
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.store.outbox import OutboxRelay
from cbec.tenants import TenantRegistry
from cbec.tenants_config import load_tenants

AppFactory = Callable[[DeclarationStore, TenantRegistry], DeclarationApp]


def build_process(
    service: str,
    doc_types: list[DocType],
    waiting_for: Callable[[Declaration], list[str]],
    settings: Settings | None = None,
    build_app: AppFactory | None = None,
) -> ServiceProcess:
    """``build_app`` (a service's ``application.build``) wires its own rules; else the shared defaults."""
    settings = settings or Settings()
    store = EventStore.open(settings.database_url, schema=schema_for(settings, service), name=service)
    declarations = BatchingDeclarations(store)  # intake batches commit in one transaction each
    if build_app is not None:
        app = build_app(declarations, load_tenants(settings))
    else:
        app = DeclarationApp(
            doc_types,
            declarations,
            load_tenants(settings),
            ceb_bridge.validate,
            ceb_bridge.render,
            waiting_for=waiting_for,
        )
    table = handlers(app)
    bootstrap = settings.kafka_bootstrap_servers
    ensure_topics(
        bootstrap,
        [*table, routing.events_topic(service), routing.SIGN_REQUESTS_TOPIC, f"cbec.dlq.{service}"],
        settings.topic_partitions,
    )
    consumer = KafkaConsumerLoop(
        bootstrap,
        Subscription(tuple(table), f"cbec-{service}"),
        batch_handler=batch_handler(service, app, declarations),
    )

    def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
        return routing.route(service, event.stream_id, event.version, event.type, event.data)

    relay = OutboxRelay(
        store,
        AioKafkaPublisher(bootstrap, client_id=f"cbec-{service}"),
        name=schema_for(settings, service),
        route=route,
    )
    return ServiceProcess(
        service,
        consumers=[consumer],
        relays=[relay],
        http_app=make_http_app(app, service),
        http_port=settings.http_port,
        http_host=settings.http_host,
        ready_file=settings.ready_file,
        poll_interval=settings.poll_interval,
    )
