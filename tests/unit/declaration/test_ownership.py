"""Stories of an enterprise trying to change another's document under the same business key.

Only the document's original sender, or an enterprise the registry names as its delegate, may
declare it again, change or delete it. Anyone else is refused with CBEC-1005; the refusal is the
sender's: it is returned (and dead-lettered on Kafka), never written into the owner's stream.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.contracts.commands import DeclareDocument
from cbec.contracts.customs import ReceiptReceived
from cbec.declaration.application import DeclarationApp, Outcome
from cbec.declaration.dispatch import handlers
from cbec.declaration.doctypes import ORDER
from cbec.declaration.http import make_http_app
from cbec.declaration.ports import Position
from cbec.tenants import TenantRegistry
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import PLATFORM, order_document
from cbec_testkit.tenants import DEMO_TENANTS
from fastapi.testclient import TestClient
from order_service import application

SELLER = "3105960011"  # an e-commerce enterprise selling on the platform
AGENT = "3105960012"  # declares orders for the platform (delegatedCodes names the platform)


def registry() -> TenantRegistry:
    extra = [
        {"customsCode": SELLER, "name": "示例卖家有限公司", "roles": ["ecommerce"], "dxpId": "DXPENT0000000011"},
        {"customsCode": AGENT, "name": "示例代理有限公司", "roles": ["ecommerce"], "dxpId": "DXPENT0000000012",
         "delegatedCodes": [PLATFORM]},
    ]
    return TenantRegistry.from_json([*DEMO_TENANTS, *extra])


class Orders:
    def __init__(self) -> None:
        self.store = InMemoryDeclarationStore()
        self.app: DeclarationApp = application.build(self.store, registry())
        self.order = order_document(1, random.Random(1), lines=1)
        self.calls = 0

    def declare(self, sender: str, document: dict[str, Any]) -> Outcome:
        self.calls += 1
        return self.app.declare(DeclareDocument(f"cmd-{self.calls}", sender, "CEB311", copy.deepcopy(document)))

    def accepted_by_customs(self) -> None:
        key = list(ORDER.business_key(self.order))
        receipt = ReceiptReceived("r-1", "CEB312", "CEB311", key, 120, "20261201100000000", "accepted", {})
        assert self.app.record_receipt(receipt)

    def stream(self) -> list[tuple[str, dict[str, Any]]]:
        return self.store.read(ORDER.stream_id(ORDER.business_key(self.order)))


def as_seller(order: dict[str, Any], app_type: str) -> dict[str, Any]:
    """The platform's order (same ebpCode and orderNo), re-declared with the seller as ebcCode."""
    document = copy.deepcopy(order)
    head = document["OrderHead"]
    head.update(ebcCode=SELLER, ebcName="示例卖家有限公司", appType=app_type)
    return document


@pytest.fixture
def orders() -> Orders:
    orders = Orders()
    assert orders.declare(PLATFORM, orders.order).result == "accepted"
    orders.accepted_by_customs()
    return orders


@pytest.mark.parametrize("app_type", ["1", "2", "3"])
def test_a_seller_cannot_redeclare_change_or_delete_the_platforms_order(orders: Orders, app_type: str) -> None:
    before = orders.stream()
    outcome = orders.declare(SELLER, as_seller(orders.order, app_type))
    assert outcome.result == "refused" and outcome.stream_id is None
    assert [e.code for e in outcome.errors] == ["CBEC-1005"]
    assert outcome.errors[0].path == "OrderHead.ebpCode/orderNo"
    assert orders.stream() == before  # nothing appended: no refusal, no change, no release to sign
    assert SELLER not in json.dumps(orders.stream())


def test_an_enterprise_of_the_wrong_role_is_refused_outside_the_owners_stream_too(orders: Orders) -> None:
    before = orders.stream()
    outcome = orders.declare("3105960002", orders.order)  # the payment company
    assert outcome.result == "refused" and outcome.errors[0].code == "-10101"
    assert orders.stream() == before


def test_the_platforms_delegate_may_change_the_order(orders: Orders) -> None:
    changed = copy.deepcopy(orders.order)
    changed["OrderHead"]["note"] = "corrected by the agent"
    outcome = orders.declare(AGENT, changed)
    assert outcome.result == "accepted", outcome.errors
    types = [t for t, _ in orders.stream()]
    assert types[-2:] == ["DocumentReceived", "DocumentReleased"]
    assert orders.stream()[-2][1]["appType"] == "2"


def test_the_owner_still_changes_its_own_order(orders: Orders) -> None:
    changed = copy.deepcopy(orders.order)
    changed["OrderHead"]["note"] = "a change"
    assert orders.declare(PLATFORM, changed).result == "accepted"


def test_the_owner_does_not_see_a_foreign_attempt_over_http(orders: Orders) -> None:
    keys = {tenant: issue_key(tenant) for tenant in (PLATFORM, SELLER)}
    client = TestClient(make_http_app(orders.app, "order", auth=ApiKeyRegistry(r for _, r in keys.values())))
    head = orders.order["OrderHead"]
    location = f"/v1/documents/CEB311/{head['ebpCode']}/{head['orderNo']}"
    owner = {"Authorization": f"Bearer {keys[PLATFORM][0]}"}
    before = client.get(location, headers=owner).json()
    body = {"commandId": "seller-1", "sender": SELLER, "docType": "CEB311", "document": as_seller(orders.order, "2")}
    answer = client.post("/v1/documents", json=body, headers={"Authorization": f"Bearer {keys[SELLER][0]}"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["code"] == "CBEC-1005"
    assert answer.json()["streamId"] is None
    assert client.get(location, headers=owner).json() == before


def test_on_kafka_the_foreign_attempt_goes_to_the_dead_letter_topic_not_the_owners_stream(orders: Orders) -> None:
    before = orders.stream()
    raw = DeclareDocument("seller-7", SELLER, "CEB311", as_seller(orders.order, "3")).to_json()
    handlers(orders.app)["cbec.in.order"](raw, Position("order|cbec.in.order/0", 41))
    [letter] = [d for _, _, t, d in orders.store.log if t == "CommandDeadLettered"]
    assert letter["errors"][0]["code"] == "CBEC-1005" and SELLER in letter["command"]
    assert orders.stream() == before
