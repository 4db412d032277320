"""The embedded default: every service in one process on SQLite, an in-process bus and the simulator."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import inventory_service.application
import logistics_service.application
import order_service.application
import payment_service.application
from cbec.bus.in_process import InProcessBus
from cbec.bus.ports import Subscription
from cbec.clock import Clock, SystemClock
from cbec.contracts import topics
from cbec.contracts.commands import INTAKE_TOPICS, DeclareDocument, GoodsLeft
from cbec.contracts.signing import SignRequest, SignResult
from cbec.customs.filedrop import FileDropLink
from cbec.customs.simulator import CustomsSimulator, SimulatorConfig
from cbec.declaration import routing
from cbec.declaration.application import DeclarationApp
from cbec.declaration.bus_glue import bus_handler
from cbec.declaration.dispatch import handlers
from cbec.declaration.doctypes import BY_CODE
from cbec.declaration.eventstore_adapter import EventStoreDeclarations
from cbec.declaration.lifecycle import Declaration
from cbec.quota.settings import QuotaSettings
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.keys import SigningKey
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.signing.xmldsig import sign_document
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
from cbec.store.outbox import OutboxRelay
from cbec.tenants import TenantRegistry, demo_registry
from pydantic import SecretStr
from receipts_service.application import CustomsLinkApp
from receipts_service.application import route as link_route
from saga_service import application as saga_app
from saga_service import webhooks
from saga_service.domain import Policy
from saga_service.settings import SecretLookup

log = logging.getLogger(__name__)


def software_keys(tenants: TenantRegistry) -> dict[str, SigningKey]:
    """A fresh SM2 key and certificate per tenant (the embedded stand-in for the platform HSM)."""
    keys: dict[str, SigningKey] = {}
    for tenant in tenants.all():
        key_pem, cert_pem = generate_sm2_identity(tenant.customs_code, tenant.name)
        keys[tenant.customs_code] = SoftwareSM2Key.from_pem(key_pem, cert_pem)
    return keys


class InProcessSigner:
    """Answers sign requests with the tenant's software key (idempotent: same request, same answer)."""

    def __init__(self, bus: InProcessBus, keys: dict[str, SigningKey]) -> None:
        self.bus = bus
        self.keys = keys
        self.done: set[str] = set()

    def handle(self, raw: bytes) -> None:
        request = SignRequest.from_json(raw)
        if request.request_id in self.done:
            return
        key = self.keys.get(request.tenant)
        if key is None:
            result = SignResult.failure(request, "CBEC-3001", "no signing key for this tenant")
        else:
            result = SignResult.success(request, sign_document(request.xml(), key))
        self.bus.publish(topics.SIGN_RESULTS, request.clearance_key, result.to_json())
        self.done.add(request.request_id)


def embedded_quota_settings() -> QuotaSettings:
    """The configured quota settings; without a buyer-key secret, a random one for this run only."""
    settings = QuotaSettings()
    if settings.pii_hmac_key is None:
        settings = settings.model_copy(update={"pii_hmac_key": SecretStr(secrets.token_hex(32))})
    return settings


@dataclass
class EmbeddedStack:
    """All of cbec wired in one process; ``step()`` moves every component forward once."""

    workdir: Path
    dxp_dir: Path
    tenants: TenantRegistry = field(default_factory=demo_registry)
    simulator_config: SimulatorConfig = field(default_factory=SimulatorConfig)
    saga_policy: Policy = field(default_factory=Policy)
    clock: Clock = field(default_factory=SystemClock)
    webhook_post: webhooks.Post | None = None  # default: HTTPS POST with httpx

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bus = InProcessBus()
        self.stores: list[EventStore] = []
        self.relays: list[OutboxRelay] = []
        self.apps: dict[str, DeclarationApp] = {}
        self._add_declaration_service("order", order_service.application.build)
        self._add_declaration_service("payment", payment_service.application.build)
        self._add_declaration_service("logistics", logistics_service.application.build)
        self._add_declaration_service("inventory", lambda store, tenants: inventory_service.application.build(
            store, tenants, embedded_quota_settings()))

        saga_store = self._store("saga")
        self.saga = saga_app.SagaApp(saga_store, policy=self.saga_policy, clock=self.clock)
        self.bus.consumer(Subscription(saga_app.INPUT_TOPICS, "cbec-saga"), batch_handler=self.saga.handle_batch)
        self.relays.append(OutboxRelay(saga_store, self.bus, name="saga", route=saga_app.route))
        self.webhooks: webhooks.WebhookNotifier | None = None
        if any(t.callback_url for t in self.tenants.all()):
            self.webhooks = webhooks.WebhookNotifier(
                saga_store, self.tenants, SecretLookup(os.environ.get("CBEC_WEBHOOK_SECRET", "")),
                post=self.webhook_post, clock=self.clock)
            self.bus.consumer(Subscription((topics.STATUS,), "cbec-webhooks"), self.webhooks.handle)

        self.signer = InProcessSigner(self.bus, software_keys(self.tenants))
        self.bus.consumer(Subscription((topics.SIGN_REQUESTS,), "cbec-signer"),
                          lambda m: self.signer.handle(m.value))

        self.link = FileDropLink(self.dxp_dir / "outbox", self.dxp_dir / "inbox")
        link_store = self._store("receipts")
        self.customs_link = CustomsLinkApp(EventStoreDeclarations(link_store), self.link, self.tenants)
        self.bus.consumer(Subscription((topics.SIGN_RESULTS,), "cbec-receipts"),
                          bus_handler("receipts", {topics.SIGN_RESULTS: self.customs_link.on_signed}))
        self.relays.append(OutboxRelay(link_store, self.bus, name="receipts",
                                       route=lambda e: link_route(e.stream_id, e.version, e.type, e.data)))
        self.simulator = CustomsSimulator(self.link.outbox, self.link.inbox, config=self.simulator_config)

    def _store(self, name: str) -> EventStore:
        store = EventStore.open(f"sqlite:///{self.workdir / (name + '.db')}", schema=name, name=name)
        self.stores.append(store)
        return store

    def _add_declaration_service(self, name: str, build: Any) -> None:
        store = self._store(name)
        app: DeclarationApp = build(EventStoreDeclarations(store), self.tenants)
        self.apps[name] = app
        table = handlers(app)
        self.bus.consumer(Subscription(tuple(table), f"cbec-{name}"), bus_handler(name, table))

        def route(event: RecordedEvent, service: str = name) -> list[tuple[str, str, bytes]]:
            return routing.route(service, event.stream_id, event.version, event.type, event.data)

        self.relays.append(OutboxRelay(store, self.bus, name=name, route=route))

    # -- driving --------------------------------------------------------------------------------
    def submit(self, command: DeclareDocument) -> None:
        topic = {code: name for name, code in INTAKE_TOPICS.items()}[command.doc_type]
        doc_type = BY_CODE[command.doc_type]
        self.bus.publish(topic, ":".join(doc_type.business_key(command.document)), command.to_json())

    def goods_left(self, clearance_key: str) -> None:
        """The goods of a clearance left the zone or site (what the site's gate system reports)."""
        self.bus.publish(topics.GOODS_LEFT, clearance_key,
                         GoodsLeft(clearance_key, f"goods-left:{clearance_key}").to_json())

    def step(self) -> int:
        work = self.bus.drain()
        work += sum(relay.run_once() for relay in self.relays)
        work += self.bus.drain()
        work += self.customs_link.poll_inbox()
        work += self.simulator.poll()
        work += self.saga.tick()
        if self.webhooks is not None:
            work += self.webhooks.poll()
        return work

    def declaration(self, doc_type_code: str, key: tuple[str, ...]) -> Declaration | None:
        doc_type = BY_CODE[doc_type_code]
        return self.apps[doc_type.service].find(doc_type_code, key)

    def close(self) -> None:
        for store in self.stores:
            store.close()
