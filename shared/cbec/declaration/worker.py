"""Run a declaration service (order, payment, logistics, inventory) as a process on Kafka and Postgres."""

from __future__ import annotations

import logging
from collections.abc import Callable

from cbec.auth.keys import ApiKeyRegistry
from cbec.bus.aio_kafka import AioKafkaPublisher
from cbec.bus.kafka import KafkaConsumerLoop, ensure_topics
from cbec.bus.ports import Subscription
from cbec.contracts import topics
from cbec.declaration import ceb_bridge, routing
from cbec.declaration.application import DeclarationApp
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.dispatch import handlers
from cbec.declaration.doctypes import DocType
from cbec.declaration.http import make_http_app
from cbec.declaration.lifecycle import Declaration
from cbec.declaration.ports import DeclarationStore
from cbec.privacy.cipher import AesGcmCipher
from cbec.readmodel import Projection, ReadModel, StoreSource
from cbec.runtime import ServiceProcess
from cbec.settings import Settings, schema_for
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.store.outbox import OutboxRelay
from cbec.tenants import TenantRegistry
from cbec.tenants_config import load_tenants

log = logging.getLogger(__name__)

AppFactory = Callable[[DeclarationStore, TenantRegistry], DeclarationApp]


def readmodel_url(url: str) -> str:
    """The read model's database: the same Postgres, or a file of its own beside a SQLite event store."""
    if url.startswith("sqlite:///") and url.endswith(".db"):
        return url[: -len(".db")] + "-readmodel.db"
    return url


def build_process(
    service: str,
    doc_types: list[DocType],
    waiting_for: Callable[[Declaration], list[str]],
    settings: Settings | None = None,
    build_app: AppFactory | None = None,
) -> ServiceProcess:
    """``build_app`` (a service's ``application.build``) wires its own rules; else the shared defaults."""
    settings = settings or Settings()
    cipher = AesGcmCipher.from_env()
    if cipher is None:
        log.warning("CBEC_PII_KEYS is not set: personal data in %s's events is stored unencrypted", service)
    schema = schema_for(settings, service)
    store = EventStore.open(settings.database_url, schema=schema, name=service, cipher=cipher)
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
        [*table, topics.events(service), topics.SIGN_REQUESTS, topics.dead_letters(service)],
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
        name=schema,
        route=route,
    )
    readmodel = ReadModel.open(readmodel_url(settings.database_url), service, schema=schema)
    projection = Projection(StoreSource(store), readmodel)
    http_app = make_http_app(app, service, auth=ApiKeyRegistry.from_env(), readmodel=readmodel,
                             projection=projection)
    return ServiceProcess(
        service,
        consumers=[consumer],
        relays=[relay],
        pollers=[projection.run_once],
        http_app=http_app,
        http_port=settings.http_port,
        http_host=settings.http_host,
        ready_file=settings.ready_file,
        poll_interval=settings.poll_interval,
    )
