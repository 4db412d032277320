"""Run a declaration service (order, payment, logistics, inventory) as a process on Kafka and Postgres."""

from __future__ import annotations

import logging
from typing import Protocol

from cbec.auth.keys import ApiKeyRegistry
from cbec.bus.aio_kafka import AioKafkaPublisher
from cbec.bus.kafka import KafkaConsumerLoop, ensure_topics
from cbec.bus.ports import Subscription
from cbec.declaration import routing
from cbec.declaration.application import DeclarationApp
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.config import DeclarationSettings
from cbec.declaration.dispatch import handlers
from cbec.declaration.http import make_http_app
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

class AppFactory(Protocol):
    """A service's ``application.build``: its policies on the shared lifecycle engine."""

    def __call__(
        self, store: DeclarationStore, tenants: TenantRegistry, /, *, redeclare_app_type: str, gate: int
    ) -> DeclarationApp: ...


def readmodel_url(url: str) -> str:
    """The read model's database: the same Postgres, or a file of its own beside a SQLite event store."""
    if url.startswith("sqlite:///") and url.endswith(".db"):
        return url[: -len(".db")] + "-readmodel.db"
    return url


def build_process(
    service: str,
    build_app: AppFactory,
    settings: Settings | None = None,
) -> ServiceProcess:
    """``build_app`` (a service's ``application.build``) wires the service's policies."""
    settings = settings or Settings()
    cipher = AesGcmCipher.from_env()
    if cipher is None:
        log.warning("CBEC_PII_KEYS is not set: personal data in %s's events is stored unencrypted", service)
    schema = schema_for(settings, service)
    store = EventStore.open(settings.database_url, schema=schema, name=service, cipher=cipher)
    declarations = BatchingDeclarations(store)  # intake batches commit in one transaction each
    rules = DeclarationSettings()
    app = build_app(declarations, load_tenants(settings), redeclare_app_type=rules.redeclare_app_type,
                    gate=rules.saga_gate)
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
        health_check=store.max_notification_id,  # ready only once the store answers
        poll_interval=settings.poll_interval,
    )
