"""`cbec run receipts`, the embedded demo and the tests build the customs link here: sign results →
the customs transport(s) (DXP file drop, HTTP gateway, AMQP); receipts → receipt events."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

from cbec import production
from cbec.bus.ports import BatchHandler, Message, Subscription
from cbec.contracts import topics
from cbec.contracts.dead_letter import DEAD_LETTERED
from cbec.customs.amqp_link import AmqpLink
from cbec.customs.filedrop import FileDropLink
from cbec.customs.http_link import HttpGatewayLink
from cbec.customs.routing import TransportRouter
from cbec.customs.transport import Transport
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.bus_glue import bus_handler, position_of
from cbec.declaration.dispatch import poison_sink
from cbec.declaration.ports import Position
from cbec.declaration.routing import dead_letter_message
from cbec.migrations.startup import prepare_database
from cbec.privacy.cipher import AesGcmCipher
from cbec.runtime import Paced, ServiceProcess, leased
from cbec.sandbox import link_tenants
from cbec.service import Consumes, Outbox, Service, as_process
from cbec.settings import Settings, TransportKind
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.store.leases import lease_for
from cbec.telemetry import consuming
from cbec.tenants import TenantRegistry

from receipts_service.application import CustomsLinkApp, route

SERVICE = "receipts"


def transport(settings: Settings, tenants: TenantRegistry | None = None) -> Transport:
    """The customs transport the ``link`` settings select: one (``CBEC_CUSTOMS_TRANSPORT``; by default the
    HTTP gateway when ``CBEC_CUSTOMS_GATEWAY_URL`` is set, else the DXP file drop), or several routed per
    tenant or region (``CBEC_CUSTOMS_TRANSPORTS``). An AMQP link binds its receive queue to the DXPIDs of
    the ``tenants`` it serves (all of them without a registry)."""
    link = settings.link
    routes = link.routes()
    longest_first = sorted(routes, key=len, reverse=True)

    def kind_of(customs_code: str) -> TransportKind:
        return next((routes[p] for p in longest_first if customs_code.startswith(p)), link.default_kind)

    built: dict[TransportKind, Transport] = {}

    def one(kind: TransportKind) -> Transport:
        if kind not in built:
            # an AMQP link binds its receive queue to the DXPIDs of its tenants (no registry: to all)
            dxp_ids = sorted({t.dxp_id for t in tenants.all() if kind_of(t.customs_code) == kind}) if tenants else []
            built[kind] = _build_transport(settings, kind, dxp_ids)
        return built[kind]

    default = one(link.default_kind)
    if set(routes.values()) <= {link.default_kind}:
        return default
    return TransportRouter(default, {prefix: one(kind) for prefix, kind in routes.items()})


def _build_transport(settings: Settings, kind: TransportKind, dxp_ids: list[str]) -> Transport:
    link = settings.link
    if kind == "http":
        return HttpGatewayLink(link.gateway_url, link.gateway_dxp_id, poll_every=link.gateway_poll_every)
    if kind == "amqp":
        assert link.amqp_url is not None  # the settings refuse amqp without a URL
        return AmqpLink(link.amqp_url.get_secret_value(), send_exchange=link.amqp_send_exchange,
                        send_queue=link.amqp_send_queue, receive_exchange=link.amqp_receive_exchange,
                        receive_queue=link.amqp_receive_queue, dxp_ids=dxp_ids, declare=link.amqp_declare,
                        staging=link.amqp_staging, idle_wait=link.amqp_poll_every)
    dxp = settings.dxp
    return FileDropLink(dxp.outbox, dxp.inbox, idle_wait=dxp.poll_every, sent=dxp.sent, keep_days=dxp.outbox_keep_days)


def sign_results_handler(app: CustomsLinkApp) -> BatchHandler:
    """The consumer's batch handler: a partition's sign results in one transaction
    (:meth:`CustomsLinkApp.transmit_batch`). A message that breaks the contract fails the batch, so
    the consumer redoes the messages one at a time and dead-letters that one alone."""
    one_by_one = bus_handler(SERVICE, {topics.SIGN_RESULTS: app.on_signed})

    def handle(messages: Sequence[Message]) -> None:
        if len(messages) < 2 or any(m.topic != topics.SIGN_RESULTS for m in messages):
            for message in messages:
                one_by_one(message)
            return
        positions = [position_of(SERVICE, m) for m in messages]
        by_position = dict(zip(positions, messages, strict=True))

        def traced(position: Position) -> AbstractContextManager[object]:  # each message's span, as one by one
            m = by_position[position]
            return consuming(m.topic, m.partition, m.offset, m.headers)

        app.transmit_batch([(app.sign_result(m.value, p), p) for m, p in zip(messages, positions, strict=True)],
                           traced)

    return handle


def build(settings: Settings, tenants: TenantRegistry, store: EventStore, link: Transport) -> Service:
    """The customs link on ``store``, sending and receiving through ``link``."""
    # a production link sends for no sandbox tenant (cbec.sandbox): its documents are dead-lettered here
    app = CustomsLinkApp(BatchingDeclarations(store), link, link_tenants(tenants, production_link=settings.production))
    cipher = AesGcmCipher.from_spec(settings.pii.key_spec())

    def relay_route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
        if event.type == DEAD_LETTERED:
            return [dead_letter_message(SERVICE, event.data, cipher)]
        return route(event.stream_id, event.version, event.type, event.data)

    inbox_lease = lease_for(store, f"{SERVICE}-inbox")
    return Service(
        SERVICE,
        app,
        consumes=[Consumes(Subscription((topics.SIGN_RESULTS,), f"cbec-{SERVICE}"),
                           batch_handler=sign_results_handler(app), dead_letter=poison_sink(app.store))],
        outboxes=[Outbox(store, settings.database.schema_for(SERVICE), relay_route)],
        pollers=[leased(inbox_lease, Paced(app.inbox_round, link.idle))],  # one inbox reader among replicas
        topics=[*topics.feedback_of_kind(topics.FEEDBACK_SENT), *topics.feedback_of_kind(topics.FEEDBACK_RECEIPTS),
                topics.dead_letters(SERVICE)],
        on_close=[inbox_lease.close],
    )


def process(settings: Settings, tenants: TenantRegistry) -> ServiceProcess:
    production.require(settings, production.tenants_problems(settings))
    db = settings.database
    store = EventStore.open(db.url, schema=db.schema_for(SERVICE), name=SERVICE, pool_size=db.pool_size,
                            max_overflow=db.max_overflow, create=prepare_database(settings))
    return as_process(build(settings, tenants, store, transport(settings, tenants)), settings)
