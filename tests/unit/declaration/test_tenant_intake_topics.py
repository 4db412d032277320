"""Each tenant declares on its own intake topic (``cbec.in.order.<code>``, writable only by its Kafka
principal): the owning service takes the sender from the topic, and a JSON ``sender`` naming another
enterprise is dead-lettered naming the field. The shared ``cbec.in.order`` is development only."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import order_service.application
import pytest
from cbec.bus.delivery import deliver
from cbec.bus.ports import Message
from cbec.contracts import topics
from cbec.contracts.commands import DeclareDocument
from cbec.declaration.batch_intake import batch_handler
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.bootstrap import service
from cbec.declaration.dispatch import intake_topics
from cbec.declaration.doctypes import ORDER
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.tenants import TenantRegistry
from cbec_testkit.samples import PLATFORM, order_document
from cbec_testkit.tenants import DEMO_TENANTS

OTHER_PLATFORM = "3105960009"
REGISTRY = TenantRegistry.from_json([*DEMO_TENANTS, {**DEMO_TENANTS[0], "customsCode": OTHER_PLATFORM,
                                                     "name": "another platform", "dxpId": "DXPENT0000009999"}])


class OrderService:
    def __init__(self, path: Path) -> None:
        self.events = EventStore.open(f"sqlite:///{path}", schema="unused", name="order")
        self.declarations = BatchingDeclarations(self.events)
        self.app = order_service.application.build(self.declarations, REGISTRY)

    def consume(self, topic: str, *commands: DeclareDocument, shared_intake: bool = True) -> None:
        messages = [Message(topic, 0, offset, None, c.to_json(), {}) for offset, c in enumerate(commands)]
        handle = batch_handler("order", self.app, self.declarations, shared_intake=shared_intake)
        for batch in ([m] for m in messages) if len(messages) == 1 else [messages]:
            deliver(batch, handler=None, batch_handler=handle, dead_letter=None, commit=lambda m: None)

    def declared(self, command: DeclareDocument) -> bool:
        return bool(list(self.events.read(ORDER.stream_id(ORDER.business_key(command.document)))))

    def dead_letters(self) -> list[dict[str, object]]:
        return [e.data for e in self.events.notifications(1, 10_000) if e.type == "CommandDeadLettered"]


@pytest.fixture
def order(tmp_path: Path) -> Iterator[OrderService]:
    running = OrderService(tmp_path / "order.db")
    yield running
    running.events.close()


def command(n: int, sender: str = PLATFORM) -> DeclareDocument:
    return DeclareDocument(f"cmd-{n}", sender, "CEB311", order_document(n, random.Random(n)))


def test_every_platform_has_its_own_order_topic_and_only_platforms_do() -> None:
    app = OrderService.__new__(OrderService)
    app.app = order_service.application.build(None, REGISTRY)  # type: ignore[arg-type]  # topics only
    assert intake_topics(app.app, shared=False) == {
        "cbec.in.order.3105960001": ("CEB311", PLATFORM), "cbec.in.order.3105960009": ("CEB311", OTHER_PLATFORM),
        # the export orders the same platforms (also e-commerce enterprises) declare
        "cbec.in.export-order.3105960001": ("CEB303", PLATFORM),
        "cbec.in.export-order.3105960009": ("CEB303", OTHER_PLATFORM)}
    assert "cbec.in.order" in intake_topics(app.app)


def test_a_command_on_the_tenants_own_topic_is_declared(order: OrderService) -> None:
    mine = command(1)
    order.consume(topics.tenant_intake(topics.IN_ORDER, PLATFORM), mine)
    assert order.declared(mine) and order.dead_letters() == []


@pytest.mark.parametrize("batched", [False, True])
def test_a_sender_naming_another_enterprise_is_refused_naming_the_field(order: OrderService, batched: bool) -> None:
    forged = command(2, sender=PLATFORM)  # published by the other platform on its own topic
    commands = (forged, command(3, sender=OTHER_PLATFORM)) if batched else (forged,)
    order.consume(topics.tenant_intake(topics.IN_ORDER, OTHER_PLATFORM), *commands)
    assert not order.declared(forged)
    [letter] = order.dead_letters()
    [error] = letter["errors"]  # type: ignore[misc]
    assert error["code"] == "CBEC-0403" and error["path"] == "sender"  # type: ignore[index]
    assert OTHER_PLATFORM in error["message"]  # type: ignore[index]


def test_in_production_the_shared_topic_is_not_consumed(order: OrderService, tmp_path: Path) -> None:
    production = Settings.from_environ({"CBEC_ENV": "production"})
    parts = service("order", order.app, order.events, order.declarations, production)
    [consumes] = parts.consumes
    assert topics.IN_ORDER not in consumes.subscription.topics
    assert "cbec.in.order.3105960001" in consumes.subscription.topics
    shared = command(4)
    order.consume(topics.IN_ORDER, shared, shared_intake=False)
    assert not order.declared(shared)
    development = service("order", order.app, order.events, order.declarations, Settings.from_environ({}))
    assert topics.IN_ORDER in development.consumes[0].subscription.topics
