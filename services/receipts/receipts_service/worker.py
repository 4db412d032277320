"""`cbec run receipts`: the customs link process (sign results → DXP outbox; DXP inbox → receipt events)."""

from __future__ import annotations

from cbec.bus.aio_kafka import AioKafkaPublisher
from cbec.bus.kafka import KafkaConsumerLoop, ensure_topics
from cbec.bus.ports import Subscription
from cbec.contracts import topics
from cbec.customs.filedrop import FileDropLink
from cbec.customs.http_link import HttpGatewayLink
from cbec.customs.transport import Transport
from cbec.declaration.bus_glue import bus_handler
from cbec.declaration.eventstore_adapter import EventStoreDeclarations
from cbec.runtime import ServiceProcess
from cbec.settings import Settings, schema_for
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.store.outbox import OutboxRelay
from cbec.tenants_config import load_tenants
from pydantic_settings import BaseSettings, SettingsConfigDict

from receipts_service.application import CustomsLinkApp, route

SERVICE = "receipts"


class LinkSettings(BaseSettings):
    """``CBEC_CUSTOMS_GATEWAY_URL`` selects the HTTP gateway transport (else the DXP file drop);
    ``CBEC_CUSTOMS_GATEWAY_DXP_ID`` is the platform's own DXP id there."""

    model_config = SettingsConfigDict(env_prefix="CBEC_", extra="ignore")

    customs_gateway_url: str = ""
    customs_gateway_dxp_id: str = "DXPENT0000000000"
    customs_gateway_poll_every: float = 2.0


def transport(settings: Settings, link: LinkSettings) -> Transport:
    if link.customs_gateway_url:
        return HttpGatewayLink(
            link.customs_gateway_url, link.customs_gateway_dxp_id, poll_every=link.customs_gateway_poll_every
        )
    return FileDropLink(settings.dxp_outbox, settings.dxp_inbox)


def build_process(settings: Settings | None = None) -> ServiceProcess:
    settings = settings or Settings()
    store = EventStore.open(settings.database_url, schema=schema_for(settings, SERVICE), name=SERVICE)
    tenants = load_tenants(settings)
    app = CustomsLinkApp(EventStoreDeclarations(store), transport(settings, LinkSettings()), tenants)
    bootstrap = settings.kafka_bootstrap_servers
    ensure_topics(bootstrap, [topics.SIGN_RESULTS, topics.TRANSMISSIONS, topics.RECEIPTS], settings.topic_partitions)
    table = {topics.SIGN_RESULTS: app.on_signed}
    consumer = KafkaConsumerLoop(
        bootstrap, Subscription((topics.SIGN_RESULTS,), f"cbec-{SERVICE}"), bus_handler(SERVICE, table)
    )

    def relay_route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
        return route(event.stream_id, event.version, event.type, event.data)

    relay = OutboxRelay(
        store,
        AioKafkaPublisher(bootstrap, client_id="cbec-receipts"),
        name=schema_for(settings, SERVICE),
        route=relay_route,
    )
    return ServiceProcess(
        SERVICE,
        consumers=[consumer],
        relays=[relay],
        pollers=[app.poll_inbox],
        ready_file=settings.ready_file,
        poll_interval=settings.poll_interval,
    )


def run() -> None:
    build_process().run()
