"""The embedded stack: every service in one process, built by its own bootstrap (as ``cbec run`` builds
it), on SQLite stores, an in-process bus, the real signer application with a software SM2 key per
tenant, and the customs simulator on a DXP file drop."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cbec.bus.in_process import InProcessBus
from cbec.clock import Clock, SystemClock
from cbec.contracts import topics
from cbec.contracts.commands import INTAKE_TOPICS, DeclareDocument, GoodsLeft
from cbec.customs.filedrop import FileDropLink
from cbec.customs.transport import Transport
from cbec.declaration.application import DeclarationApp
from cbec.declaration.doctypes import BY_CODE
from cbec.declaration.lifecycle import Declaration
from cbec.service import Service, attach
from cbec.settings import Settings
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.keys import SigningKey
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.store.event_store import EventStore
from cbec.store.outbox import OutboxRelay
from cbec.tenants import TenantRegistry
from inventory_service import bootstrap as inventory
from logistics_service import bootstrap as logistics
from order_service import bootstrap as order
from payment_service import bootstrap as payment
from pydantic import SecretStr
from receipts_service import bootstrap as receipts
from receipts_service.application import CustomsLinkApp
from saga_service import bootstrap as saga
from saga_service import webhooks
from saga_service.application import SagaApp
from signer_service import bootstrap as signer
from signer_service.application import SignerApp

from cbec_testkit.customs.simulator import CustomsSimulator, SimulatorConfig
from cbec_testkit.tenants import demo_registry

log = logging.getLogger(__name__)

DECLARATION_SERVICES = {"order": order.build, "payment": payment.build, "logistics": logistics.build,
                        "inventory": inventory.build}


def software_keys(tenants: TenantRegistry) -> dict[str, SigningKey]:
    """A fresh SM2 key and certificate per tenant (the embedded stand-in for the platform HSM)."""
    keys: dict[str, SigningKey] = {}
    for tenant in tenants.all():
        key_pem, cert_pem = generate_sm2_identity(tenant.customs_code, tenant.name)
        keys[tenant.customs_code] = SoftwareSM2Key.from_pem(key_pem, cert_pem)
    return keys


def embedded_settings(settings: Settings | None = None) -> Settings:
    """``settings`` (else the environment's) as development; without a buyer-key secret, a random one for
    this run only."""
    settings = (settings or Settings()).model_copy(update={"env": "development"})
    if settings.pii.hmac_key is None:
        pii = settings.pii.model_copy(update={"hmac_key": SecretStr(secrets.token_hex(32))})
        settings = settings.model_copy(update={"pii": pii})
    return settings


@dataclass
class EmbeddedStack:
    """All of cbec wired in one process; ``step()`` moves every component forward once."""

    workdir: Path
    dxp_dir: Path
    tenants: TenantRegistry = field(default_factory=demo_registry)
    simulator_config: SimulatorConfig = field(default_factory=SimulatorConfig)
    settings: Settings = field(default_factory=embedded_settings)
    clock: Clock = field(default_factory=SystemClock)
    webhook_post: webhooks.Post | None = None  # default: HTTPS POST with httpx
    signing_keys: dict[str, SigningKey] | None = None  # default: a fresh software key per tenant
    transport: Transport | None = None  # default: the DXP file drop in dxp_dir
    customs_node: Callable[[], int] | None = None  # moves messages between ``transport`` and the simulator

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bus = InProcessBus()
        self.stores: list[EventStore] = []
        self.relays: list[OutboxRelay] = []
        self.services: dict[str, Service] = {}
        self.apps: dict[str, DeclarationApp] = {}
        for name, build in DECLARATION_SERVICES.items():
            self.apps[name] = self._add(build(self.settings, self.tenants, self._store(name))).app

        saga_service = self._add(saga.build(self.settings, self.tenants, self._store("saga"), clock=self.clock,
                                            post=self.webhook_post))
        self.saga: SagaApp = saga_service.app
        self.webhooks: webhooks.WebhookNotifier = saga_service.extras["webhooks"]

        keys = self.signing_keys if self.signing_keys is not None else software_keys(self.tenants)
        self.signer: SignerApp = signer.build_app(self.settings, keys)
        self._add(signer.build(self.settings, self.signer, self.bus))

        # The simulator works on the DXP folders; another transport needs a customs_node that carries its
        # messages to and from them (e.g. cbec_testkit.customs.amqp_node.AmqpCustomsNode.pump).
        self.link = FileDropLink(self.dxp_dir / "outbox", self.dxp_dir / "inbox")
        self.customs_link: CustomsLinkApp = self._add(
            receipts.build(self.settings, self.tenants, self._store("receipts"), self.transport or self.link)).app
        self.simulator = CustomsSimulator(self.link.outbox, self.link.inbox, config=self.simulator_config)

    def _store(self, name: str) -> EventStore:
        store = EventStore.open(f"sqlite:///{self.workdir / (name + '.db')}", schema=name, name=name)
        self.stores.append(store)
        return store

    def _add(self, service: Service) -> Service:
        self.services[service.name] = service
        self.relays += attach(service, self.bus, self.settings)
        return service

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
        work += sum(poll() for service in self.services.values() for poll in service.pollers)
        if self.customs_node is not None:
            work += self.customs_node()
        work += self.simulator.poll()
        if self.customs_node is not None:
            work += self.customs_node()
        return work

    def declaration(self, doc_type_code: str, key: tuple[str, ...]) -> Declaration | None:
        doc_type = BY_CODE[doc_type_code]
        return self.apps[doc_type.service].find(doc_type_code, key)

    def close(self) -> None:
        self.signer.close()
        for store in self.stores:
            store.close()
