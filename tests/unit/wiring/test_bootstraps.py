"""Each service's bootstrap builds it from settings and the adapters the caller passes: here SQLite
stores, an in-process bus, a fake clock, software keys and a fake webhook receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import inventory_service.bootstrap
import logistics_service.bootstrap
import order_service.bootstrap
import payment_service.bootstrap
import pytest
from cbec.bus.in_process import InProcessBus
from cbec.clock import FakeClock
from cbec.contracts import topics
from cbec.contracts.commands import INTAKE_TOPICS
from cbec.contracts.topics import SIGN_REQUESTS as SIGN_REQUESTS_TOPIC
from cbec.contracts.topics import SIGN_RESULTS as SIGN_RESULTS_TOPIC
from cbec.contracts.topics import events as events_topic
from cbec.customs.filedrop import FileDropLink
from cbec.service import Service, attach
from cbec.settings import Settings
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.store.event_store import EventStore
from cbec.store.outbox import OutboxRelay
from cbec_testkit.samples import PLATFORM, declare_orders
from cbec_testkit.tenants import demo_registry
from prometheus_client import CollectorRegistry
from receipts_service import bootstrap as receipts
from saga_service import bootstrap as saga
from signer_service import bootstrap as signer

DECLARATION = [order_service.bootstrap, payment_service.bootstrap, logistics_service.bootstrap,
               inventory_service.bootstrap]
SETTINGS = Settings.from_environ({"CBEC_PII_HMAC_KEY": "test-key", "CBEC_SCHEMA_PREFIX": "t_"})


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[dict[str, EventStore]]:
    opened: dict[str, EventStore] = {}
    yield opened
    for store in opened.values():
        store.close()


def sqlite(stores: dict[str, EventStore], tmp_path: Path, name: str) -> EventStore:
    stores[name] = EventStore.open(f"sqlite:///{tmp_path / (name + '.db')}", schema=name, name=name)
    return stores[name]


@pytest.mark.parametrize("bootstrap", DECLARATION, ids=lambda m: m.SERVICE)
def test_a_declaration_service_consumes_its_intake_topics_and_relays_its_events(
    bootstrap: ModuleType, tmp_path: Path, stores: dict[str, EventStore]
) -> None:
    service: Service = bootstrap.build(SETTINGS, demo_registry(), sqlite(stores, tmp_path, bootstrap.SERVICE))
    codes = {d.code for d in service.app.doc_types.values()}
    [intake] = service.consumes
    assert {INTAKE_TOPICS[t] for t in intake.subscription.topics if t in INTAKE_TOPICS} == codes
    assert intake.subscription.group == f"cbec-{bootstrap.SERVICE}" and intake.batch_handler is not None
    assert {events_topic(bootstrap.SERVICE), SIGN_REQUESTS_TOPIC} <= set(service.topics)
    feedback = {t for t in intake.subscription.topics if topics.feedback_kind(t)}
    assert feedback == set(topics.feedback_topics(bootstrap.SERVICE))  # its own feedback, nobody else's
    assert SIGN_RESULTS_TOPIC not in intake.subscription.topics
    assert [o.name for o in service.outboxes] == [f"t_{bootstrap.SERVICE}"]
    assert service.http_app is None  # no read model given, no API


def test_an_order_goes_from_intake_through_saga_and_signer_to_the_customs_outbox(
    tmp_path: Path, stores: dict[str, EventStore]
) -> None:
    bus = InProcessBus()
    tenants = demo_registry()
    clock = FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    posted: list[str] = []
    keys = {PLATFORM: SoftwareSM2Key.from_pem(*generate_sm2_identity(PLATFORM, "platform"))}
    signer_app = signer.build_app(SETTINGS, keys)
    link = FileDropLink(tmp_path / "dxp" / "outbox", tmp_path / "dxp" / "inbox")
    services = [
        order_service.bootstrap.build(SETTINGS, tenants, sqlite(stores, tmp_path, "order")),
        saga.build(SETTINGS, tenants, sqlite(stores, tmp_path, "saga"), clock=clock,
                   post=lambda url, body, headers: posted.append(url) or 200),
        signer.build(SETTINGS, signer_app, bus),
        receipts.build(SETTINGS, tenants, sqlite(stores, tmp_path, "receipts"), link),
    ]
    relays: list[OutboxRelay] = [relay for s in services for relay in attach(s, bus)]
    [command] = declare_orders(1)
    bus.publish("cbec.in.order", "k", command.to_json())
    try:
        for _ in range(20):
            work = bus.drain() + sum(r.run_once() for r in relays) + bus.drain()
            work += sum(poll() for s in services for poll in s.pollers)
            if not work:
                break
        [result] = [json.loads(m.value) for m in bus.messages(SIGN_RESULTS_TOPIC)]
        assert result["ok"] and result["tenant"] == PLATFORM
        [outcome] = [json.loads(m.value) for m in bus.messages(topics.feedback("order", topics.FEEDBACK_SIGNED))]
        assert outcome == {k: v for k, v in result.items() if k != "signed_xml_b64"}  # the same, without the XML
        [sent] = bus.messages(topics.feedback("order", topics.FEEDBACK_SENT))
        assert sent.key == result["clearance_key"]
        assert not [t for t in bus.topics() if topics.feedback_kind(t) and topics.feedback_kind(t)[0] != "order"]
        assert [p.name.split("_")[0] for p in link.outbox.glob("*.xml")] == ["CEB311Message"]
        assert posted == []  # no tenant has a callback URL
    finally:
        signer_app.close()


def test_the_signer_answers_an_unknown_tenant_with_a_failure_not_a_crash() -> None:
    from cbec.contracts.dead_letter import DeadLetter
    from cbec.contracts.signing import SignRequest
    from ceb_samples import samples_dir

    bus = InProcessBus()
    app = signer.build_app(SETTINGS, {})
    attach(signer.build(SETTINGS, app, bus), bus)
    xml = (samples_dir() / "import" / "CEB311Message.xml").read_bytes()
    bus.publish(SIGN_REQUESTS_TOPIC, "k", SignRequest.for_xml("r1", "9999999999", "CEB311", "k", xml).to_json())
    bus.publish(SIGN_REQUESTS_TOPIC, "k", b"not json")
    bus.drain()
    [result] = [json.loads(m.value) for m in bus.messages(SIGN_RESULTS_TOPIC)]
    assert not result["ok"] and result["error"]["code"]
    [outcome] = bus.messages(topics.feedback("order", topics.FEEDBACK_SIGNED))  # its owner learns of it
    assert json.loads(outcome.value) == result
    [letter] = [DeadLetter.from_json(m.value) for m in bus.messages(SETTINGS.signer.dlq_topic)]
    assert letter.raw is not None and letter.raw.value == b"not json"  # the request kept byte for byte
    assert letter.errors[0].code == "CBEC-0001"
    app.close()


def test_the_saga_service_has_its_two_groups_its_pollers_and_its_api(tmp_path: Path,
                                                                     stores: dict[str, EventStore]) -> None:
    service = saga.build(Settings.from_environ({"CBEC_SAGA_GATE": "2", "CBEC_SAGA_MAX_RESENDS": "5"}),
                         demo_registry(), sqlite(stores, tmp_path, "saga"), clock=FakeClock(datetime.now(UTC)))
    assert [c.subscription.group for c in service.consumes] == ["cbec-saga", "cbec-webhooks"]
    assert (service.app.policy.gate, service.app.policy.max_resends) == (2, 5)
    notes = service.extras["notifications"]
    ticker, hooks, pusher, pruner = service.pollers
    assert pusher is notes.pacer  # every replica pushes, tenant by claimed tenant
    # one replica (the lease holder) fires deadlines, retries webhooks and prunes, woken as before
    assert (ticker.wakeup, hooks.wakeup) == (service.app.ticker.wakeup, service.extras["webhooks"].pacer.wakeup)
    assert [getattr(p.step, "__qualname__", "") for p in (ticker, hooks, pruner)] == [
        "SagaApp.tick", "WebhookNotifier.poll", "Notifier.prune"]
    assert len(service.on_close) == 1 and len(service.collectors) == 4  # the lease; notification, document gauges
    scraped = CollectorRegistry()
    for collector in service.collectors:
        scraped.register(collector)
    assert {m.name for m in scraped.collect()} == {"cbec_notification_circuit_open", "cbec_notifications_queued",
                                                   "cbec_documents_held", "cbec_documents_past_receipt_deadline"}
    assert service.http_app is not None


def test_the_receipts_transport_follows_the_gateway_setting() -> None:
    from cbec.customs.http_link import HttpGatewayLink

    assert isinstance(receipts.transport(Settings.from_environ({})), FileDropLink)
    gateway = receipts.transport(Settings.from_environ({"CBEC_CUSTOMS_GATEWAY_URL": "http://127.0.0.1:1"}))
    assert isinstance(gateway, HttpGatewayLink)
    gateway.close()


def test_a_service_creates_its_topics_unless_a_platform_operator_owns_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``CBEC_KAFKA_CREATE_TOPICS=0`` (the Helm chart's production values, Strimzi owning the topics):
    the service never asks the broker to create one."""
    import cbec.service

    asked: list[list[str]] = []

    def recording(bootstrap: str, names: list[str], partitions: int, **options: object) -> list[str]:
        asked.append(list(names))
        return list(names)

    monkeypatch.setattr(cbec.service, "ensure_topics", recording)
    service = Service("order", app=None, topics=[events_topic("order")])
    assert cbec.service.create_topics(service, SETTINGS, {}) == [events_topic("order")]
    owned = Settings.from_environ({"CBEC_PII_HMAC_KEY": "test-key", "CBEC_KAFKA_CREATE_TOPICS": "0"})
    assert cbec.service.create_topics(service, owned, {}) == []
    assert asked == [[events_topic("order")]]
