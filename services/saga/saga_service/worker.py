"""`cbec run saga`: the saga process (declaration events in → saga commands and status out; webhooks)."""

from __future__ import annotations

from datetime import timedelta

from cbec.bus.aio_kafka import AioKafkaPublisher
from cbec.bus.kafka import KafkaConsumerLoop, ensure_topics
from cbec.bus.ports import Subscription
from cbec.contracts import topics
from cbec.runtime import ServiceProcess
from cbec.settings import Settings, schema_for
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.store.outbox import OutboxRelay
from cbec.tenants_config import load_tenants

from saga_service import webhooks
from saga_service.api import make_http_app
from saga_service.application import INPUT_TOPICS, NAME, SagaApp, policy_from, route
from saga_service.settings import SagaSettings, secret_for


def build_process(settings: Settings | None = None, saga_settings: SagaSettings | None = None) -> ServiceProcess:
    settings = settings or Settings()
    own = saga_settings or SagaSettings()
    store = EventStore.open(settings.database_url, schema=schema_for(settings, NAME), name=NAME)
    app = SagaApp(store, policy=policy_from(own.saga_gate, own.saga_receipt_timeout, own.saga_max_resends))
    notifier = webhooks.WebhookNotifier(
        store,
        load_tenants(settings),
        secret_for(own),
        post=webhooks.httpx_post(own.webhook_timeout),
        max_attempts=own.webhook_max_attempts,
        backoff=timedelta(seconds=own.webhook_backoff),
    )
    bootstrap = settings.kafka_bootstrap_servers
    ensure_topics(
        bootstrap,
        [*INPUT_TOPICS, topics.SAGA_COMMANDS, topics.STATUS, topics.WEBHOOK_DEAD_LETTERS],
        settings.topic_partitions,
    )
    consumers = [
        KafkaConsumerLoop(bootstrap, Subscription(INPUT_TOPICS, "cbec-saga"), batch_handler=app.handle_batch),
        KafkaConsumerLoop(bootstrap, Subscription((topics.STATUS,), "cbec-webhooks"), notifier.handle),
    ]

    def relay_route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
        return route(event) + webhooks.route(event)

    relay = OutboxRelay(
        store, AioKafkaPublisher(bootstrap, client_id="cbec-saga"), name=schema_for(settings, NAME), route=relay_route
    )
    return ServiceProcess(
        NAME,
        consumers=consumers,
        relays=[relay],
        pollers=[app.tick, notifier.poll],
        http_app=make_http_app(app),
        http_port=settings.http_port,
        http_host=settings.http_host,
        ready_file=settings.ready_file,
        poll_interval=settings.poll_interval,
    )


def run() -> None:
    build_process().run()
