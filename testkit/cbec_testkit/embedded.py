"""The embedded stack: every service in one process, built by its own bootstrap (as ``cbec run`` builds
it), on SQLite stores, an in-process bus, the real signer application with a software SM2 key per
tenant, and the customs simulator on a DXP file drop."""

from __future__ import annotations

import logging
import secrets
import threading
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
from cbec.runtime import Paced
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


class WakingBus(InProcessBus):
    """The in-process bus, setting ``wakeup`` on every publish (a stepping thread waits on it)."""

    def __init__(self, wakeup: threading.Event) -> None:
        super().__init__()
        self.wakeup = wakeup

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        super().publish(topic, key, value, headers)
        self.wakeup.set()

    def publish_record(self, topic: str, key: bytes | None, value: bytes | None,
                       headers: list[tuple[str, bytes]] | None = None, *, partition: int = 0) -> None:
        super().publish_record(topic, key, value, headers, partition=partition)
        self.wakeup.set()


@dataclass
class EmbeddedStack:
    """All of cbec wired in one process; ``step()`` moves every component forward once.

    A thread that drives it steps on demand: after a step that did nothing it waits on ``wakeup``
    for at most :meth:`idle` seconds. In one process every write is seen: a commit to any store or a
    publish on the bus sets ``wakeup``; what keeps time (the saga's deadlines, webhook retries and
    notification pushes, the simulator's planned receipts) says when it is due next.
    """

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
    safety_net: float = 30.0  # the longest wait of an idle stack (for a source of work missed below)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.wakeup = threading.Event()
        self.bus = WakingBus(self.wakeup)
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
        # Their rounds cap a wait at ``max_idle`` for rows another process wrote; here there is none.
        self.saga.max_idle = self.webhooks.max_idle = self.safety_net
        saga_service.extras["notifications"].max_idle = self.safety_net

        keys = self.signing_keys if self.signing_keys is not None else software_keys(self.tenants)
        self.signer: SignerApp = signer.build_app(self.settings, keys)
        self._add(signer.build(self.settings, self.signer, self.bus))

        # The simulator works on the DXP folders; another transport needs a customs_node that carries its
        # messages to and from them (e.g. cbec_testkit.customs.amqp_node.AmqpCustomsNode.pump).
        # The simulator, stepped here, is the only writer of the inbox: the link need not look on its own.
        self.link = FileDropLink(self.dxp_dir / "outbox", self.dxp_dir / "inbox", idle_wait=self.safety_net)
        self.customs_link: CustomsLinkApp = self._add(
            receipts.build(self.settings, self.tenants, self._store("receipts"), self.transport or self.link)).app
        self.simulator = CustomsSimulator(self.link.outbox, self.link.inbox, config=self.simulator_config)

    def _store(self, name: str) -> EventStore:
        store = EventStore.open(f"sqlite:///{self.workdir / (name + '.db')}", schema=name, name=name)
        store.on_commit(lambda _committed: self.wakeup.set())
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

    def idle(self) -> float:
        """How long the stack may wait after a step that did nothing: until the first timed work is due
        (a poller's own wait, the simulator's next receipt), at most ``safety_net``. The relays are not
        asked: every commit of this process wakes the stack (their own wait is for other processes')."""
        waits = [self.safety_net]
        for service in self.services.values():
            for poller in service.pollers:
                waits.append(poller.idle() if isinstance(poller, Paced) else self.settings.process.poll_interval)
        if self.customs_node is not None:  # messages from outside the process: look as often as a poller
            waits.append(self.settings.process.poll_interval)
        due = self.simulator.due_in()
        if due is not None:
            waits.append(due)
        return max(0.0, min(waits))

    def declaration(self, doc_type_code: str, key: tuple[str, ...]) -> Declaration | None:
        doc_type = BY_CODE[doc_type_code]
        return self.apps[doc_type.service].find(doc_type_code, key)

    def close(self) -> None:
        self.signer.close()
        for store in self.stores:
            store.close()
