"""Stories of declaring export documents: on Kafka (``cbec.in.<kind>`` and each tenant's own
``cbec.in.<kind>.<code>``) and over the owning service's HTTP API, checked against the JSON Schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.contracts import topics
from cbec.contracts.commands import DeclareDocument
from cbec.declaration.dispatch import handlers, intake_topics
from cbec.declaration.doctypes import EXPORT, DocType
from cbec.declaration.http import make_http_app
from cbec.declaration.ports import Position
from cbec_testkit.samples import LOGISTICS_COMPANY
from conftest import World, build_world, not_read_back
from export_samples import SELLER, ExportClearance, export_registry
from fastapi.testclient import TestClient


@pytest.fixture
def world() -> Iterator[World]:
    built = build_world(tenants=export_registry())
    yield built
    assert not_read_back(built) == []


@pytest.mark.parametrize("doc_type", EXPORT, ids=lambda d: d.code)
def test_every_export_type_has_its_intake_topic_and_each_sender_its_own(world: World, doc_type: DocType) -> None:
    code = doc_type.code
    app = world.app_for(code)
    shared = f"cbec.in.{doc_type.kind}"
    assert topics.INTAKE_TOPICS[shared] == code
    table = intake_topics(app)
    assert table[shared] == (code, None)
    senders = [t.customs_code for t in app.tenants.all() if t.roles & app.policies[code].sender_roles]
    assert senders and all(table[topics.tenant_intake(shared, s)] == (code, s) for s in senders)


def test_a_carrier_declares_an_export_waybill_on_its_own_topic(world: World) -> None:
    c = ExportClearance(1)
    app = world.apps["logistics"]
    topic = topics.tenant_intake(topics.IN_EXPORT_WAYBILL, LOGISTICS_COMPANY)
    raw = DeclareDocument("w-1", LOGISTICS_COMPANY, "CEB505", c.waybill(), order_no=c.order_no).to_json()
    handlers(app)[topic](raw, Position(f"logistics|{topic}/0", 1))
    state = world.state("CEB505", c.waybill())
    assert (state.status, state.clearance_key) == ("held", c.key)


def test_an_export_waybill_naming_no_order_on_kafka_is_refused_naming_the_field(world: World) -> None:
    c = ExportClearance(2)
    app = world.apps["logistics"]
    raw = json.dumps({"commandId": "w-2", "sender": LOGISTICS_COMPANY, "docType": "CEB505",
                      "document": c.waybill()}).encode()
    handlers(app)[topics.IN_EXPORT_WAYBILL](raw, Position("logistics|cbec.in.export-waybill/0", 2))
    assert world.state("CEB505", c.waybill()).status == "refused"
    [refused] = world.events("CEB505", "DocumentRefused")
    assert [(e["code"], e["path"]) for e in refused["errors"]] == [("CBEC-0002", "orderNo")]


def test_an_export_order_is_declared_over_http_and_checked_against_its_schema(world: World) -> None:
    c = ExportClearance(3)
    key, registered = issue_key(SELLER)
    client = TestClient(make_http_app(world.apps["order"], "order", auth=ApiKeyRegistry([registered])))
    body = {"commandId": "h-1", "sender": SELLER, "docType": "CEB303", "document": c.order()}
    answer = client.post("/v1/documents", json=body, headers={"X-Api-Key": key})
    assert answer.status_code == 202 and answer.json()["status"] == "released"
    assert answer.headers["Location"] == f"/v1/documents/CEB303/{SELLER}/{SELLER}/{c.order_no}"
    wrong = c.order()
    wrong["OrderHead"]["buyerName"] = "张三"  # an import field: not in the export order
    answer = client.post("/v1/documents", json={**body, "commandId": "h-2", "document": wrong},
                         headers={"X-Api-Key": key})
    assert answer.status_code == 422
    assert [e["path"] for e in answer.json()["errors"]] == ["document.OrderHead"]
