"""The four owning services as separate processes on real Kafka and Postgres: intake, holds, refusals,
dead letters and a saga release, each checked in the service's own store."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from cbec.contracts.commands import DeclareDocument
from cbec.declaration import lifecycle
from cbec.declaration.doctypes import BY_CODE, WAYBILL
from cbec_testkit.samples import (
    DECLARANT,
    LOGISTICS_COMPANY,
    PAYMENT_COMPANY,
    PLATFORM,
    inventory_document,
    order_document,
    payment_document,
    waybill_document,
)
from kafka import KafkaProducer
from service_processes import ServiceProcesses, fast_forward, process_env

pytestmark = pytest.mark.integration

SERVICES = ("order", "payment", "logistics", "inventory")
# Consumers (in other tests' processes) of what these services publish.
DOWNSTREAM = ("cbec-signer", "cbec-saga")


class Services(ServiceProcesses):
    """The four owning services, with read access to each one's own store."""

    def __init__(self, env: dict[str, str], logs: Path, database_url: str) -> None:
        super().__init__(env, logs)
        self.stores = {name: self.open_store(name) for name in SERVICES}

    def state(self, doc_type: str, key: tuple[str, ...]) -> lifecycle.Declaration:
        dt = BY_CODE[doc_type]
        events = [(e.type, e.data) for e in self.stores[dt.service].read(dt.stream_id(key))]
        return lifecycle.fold(doc_type, events)

    def dead_letters(self, service: str) -> list[dict[str, object]]:
        return [e.data for e in self.stores[service].notifications(1, 10_000) if e.type == "CommandDeadLettered"]

    def stop(self) -> dict[str, int | None]:
        codes = super().stop()
        for store in self.stores.values():
            store.close()
        self.stores = {}
        return codes

    def diagnostics(self) -> str:
        return self.tails()


@pytest.fixture
def services(kafka_bootstrap: str, database_url: str, tmp_path: Path) -> Iterator[Services]:
    fast_forward(kafka_bootstrap)
    env = process_env(kafka_bootstrap, database_url, tmp_path, CBEC_PII_HMAC_KEY="integration-test-key")
    running = Services(env, tmp_path / "logs", database_url)
    try:
        running.start(*SERVICES)
        yield running
    finally:
        running.stop()
        # What these services leave on the topics must not reach later tests' signer and saga.
        fast_forward(kafka_bootstrap, DOWNSTREAM)


def eventually(check: Callable[[], bool], services: Services, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    pytest.fail("condition not met in time\n" + services.diagnostics())


def test_owning_services_accept_hold_refuse_and_dead_letter_as_separate_processes(
    services: Services, kafka_bootstrap: str
) -> None:
    n = int(time.time() * 1000) % 100_000_000
    order = order_document(n, random.Random(n), lines=1)
    ebp = order["OrderHead"]["ebpCode"]
    waybill = waybill_document(order)
    inventory = inventory_document(order)
    too_dear = inventory_document(order_document(n + 1, random.Random(n)))
    line = too_dear["InventoryList"][0]
    line.update(qty="1", price="5000.00", totalPrice="5000.00")  # plus freight: over the single limit
    too_dear["InventoryHead"]["freight"] = "10.00"
    wrong_sender = payment_document(order_document(n + 2, random.Random(n)))
    commands = [
        ("cbec.in.order", DeclareDocument(f"o-{n}", PLATFORM, "CEB311", order)),
        ("cbec.in.payment", DeclareDocument(f"p-{n}", PAYMENT_COMPANY, "CEB411", payment_document(order))),
        ("cbec.in.waybill", DeclareDocument(f"w-{n}", LOGISTICS_COMPANY, "CEB511", waybill, ebp)),
        ("cbec.in.inventory", DeclareDocument(f"i-{n}", DECLARANT, "CEB621", inventory)),
        ("cbec.in.inventory", DeclareDocument(f"i2-{n}", DECLARANT, "CEB621", too_dear)),
        ("cbec.in.payment", DeclareDocument(f"p2-{n}", PLATFORM, "CEB411", wrong_sender)),
    ]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for topic, command in commands:
        key = ":".join(BY_CODE[command.doc_type].business_key(command.document))
        producer.send(topic, key=key.encode(), value=command.to_json())
    producer.send("cbec.in.payment", key=b"garbage", value=b"{not json")
    producer.flush()

    def key_of(command: DeclareDocument) -> tuple[str, ...]:
        return BY_CODE[command.doc_type].business_key(command.document)

    states: dict[str, lifecycle.Declaration] = {}

    def all_settled() -> bool:
        for _, command in commands:
            states[command.command_id] = services.state(command.doc_type, key_of(command))
        return all(s.phase != "new" for s in states.values()) and bool(services.dead_letters("payment"))

    eventually(all_settled, services)
    clearance = f"{ebp}:{order['OrderHead']['orderNo']}"
    assert states[f"o-{n}"].status == "released"
    assert states[f"p-{n}"].status == "released" and states[f"p-{n}"].clearance_key == clearance
    assert states[f"w-{n}"].status == "held"  # until the saga releases it
    assert states[f"w-{n}"].clearance_key == clearance
    assert states[f"i-{n}"].status == "held"
    assert [e["code"] for e in states[f"i2-{n}"].errors] == ["-621005"]
    assert states[f"p2-{n}"].errors[0]["code"] == "-10101"
    dead = services.dead_letters("payment")
    assert any(d["errors"][0]["code"] == "CBEC-0001" for d in dead)  # type: ignore[index]

    # The saga's ReleaseDocument releases the held waybill, once however often it is delivered.
    release = {"command": "ReleaseDocument", "docType": "CEB511", "businessKey": list(WAYBILL.business_key(waybill)),
               "clearanceKey": clearance, "commandId": f"saga-{n}"}
    for _ in range(2):
        producer.send("cbec.feedback.logistics.saga-commands", key=clearance.encode(),
                      value=json.dumps(release).encode())
    producer.flush()
    producer.close()
    eventually(lambda: services.state("CEB511", WAYBILL.business_key(waybill)).phase == "released", services)
    time.sleep(1.0)
    released = [e for e in services.stores["logistics"].read(WAYBILL.stream_id(WAYBILL.business_key(waybill)))
                if e.type == "DocumentReleased"]
    assert len(released) == 1

    # The accepted list reserved its amount in the buyer's ledger; the refused one did not.
    reserved = [e for e in services.stores["inventory"].notifications(1, 10_000) if e.type == "QuotaReserved"]
    freight = Decimal(inventory["InventoryHead"]["freight"])
    amount = sum((Decimal(x["totalPrice"]) for x in inventory["InventoryList"]), freight)
    assert [Decimal(e.data["amount"]) for e in reserved] == [amount]
    codes = services.stop()
    assert all(code == 0 for code in codes.values()), codes
