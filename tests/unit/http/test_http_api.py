"""Stories of platforms and partners using a declaration service's HTTP API (in process)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.contracts.commands import DeclareDocument
from cbec.declaration import ceb_bridge
from cbec.declaration.application import DeclarationApp
from cbec.declaration.http import make_http_app
from cbec.readmodel import Projection, ReadModel
from cbec_testkit.memory import InMemoryDeclarationStore, MemorySource
from cbec_testkit.samples import PAYMENT_COMPANY, PLATFORM, declare_orders
from cbec_testkit.tenants import demo_registry
from fastapi.testclient import TestClient
from order_service.domain import ORDER_POLICY
from payment_service.domain import PAYMENT_POLICY

LOGISTICS = "3105960003"


@dataclass
class Service:
    client: TestClient
    keys: dict[str, str]
    projection: Projection

    def as_(self, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}"}


@pytest.fixture
def service() -> Service:
    store = InMemoryDeclarationStore()
    app = DeclarationApp([ORDER_POLICY, PAYMENT_POLICY], store, demo_registry(), ceb_bridge.validate, ceb_bridge.render)
    issued = {tenant: issue_key(tenant) for tenant in (PLATFORM, PAYMENT_COMPANY, LOGISTICS)}
    readmodel = ReadModel.open("sqlite:///:memory:", "order")
    projection = Projection(MemorySource(store), readmodel)
    api = make_http_app(
        app,
        "order",
        auth=ApiKeyRegistry(r for _, r in issued.values()),
        readmodel=readmodel,
        projection=projection,
    )
    return Service(TestClient(api), {t: k for t, (k, _) in issued.items()}, projection)


def order_body(n: int = 1) -> dict[str, Any]:
    [command] = declare_orders(1, start=n)
    return json.loads(command.to_json())


def declare(service: Service, body: dict[str, Any], tenant: str = PLATFORM) -> Any:
    return service.client.post("/v1/documents", json=body, headers=service.as_(tenant))


def test_a_platform_declares_an_order_and_reads_its_status(service: Service) -> None:
    body = order_body()
    answer = declare(service, body)
    assert answer.status_code == 202, answer.text
    assert answer.json()["result"] == "accepted" and answer.json()["status"] == "released"
    location = answer.headers["Location"]
    assert location == f"/v1/documents/CEB311/{PLATFORM}/{body['document']['OrderHead']['orderNo']}"
    status = service.client.get(location, headers=service.as_(PLATFORM))
    assert status.status_code == 200
    view = status.json()
    assert view["status"] == "released" and view["receipts"] == []
    assert view["document"]["OrderHead"]["buyerIdNumber"] == body["document"]["OrderHead"]["buyerIdNumber"]


def test_the_same_command_again_is_a_duplicate(service: Service) -> None:
    body = order_body()
    declare(service, body)
    again = declare(service, body)
    assert again.status_code == 200 and again.json()["result"] == "duplicate"


def test_a_command_breaking_the_schema_is_refused_with_every_error(service: Service) -> None:
    body = order_body()
    del body["document"]["OrderHead"]["orderNo"]
    body["document"]["OrderHead"]["freight"] = 3
    answer = declare(service, body)
    assert answer.status_code == 422
    paths = {e["path"] for e in answer.json()["errors"]}
    assert {"document.OrderHead", "document.OrderHead.freight"} <= paths


def test_a_business_rule_violation_is_refused(service: Service) -> None:
    body = order_body()
    body["document"]["OrderHead"]["acturalPaid"] = "0.01"
    answer = declare(service, body)
    assert answer.status_code == 422 and answer.json()["result"] == "refused"
    assert answer.json()["errors"]


def test_no_key_or_an_unknown_key_is_401(service: Service) -> None:
    assert service.client.post("/v1/documents", json=order_body()).status_code == 401
    fake = {"Authorization": "Bearer cbec_000000000000_guess"}
    assert service.client.get("/v1/documents", headers=fake).status_code == 401
    assert (
        service.client.get("/v1/documents", headers={"X-Api-Key": service.keys[PLATFORM]}).status_code == 200
    )


def test_declaring_for_another_tenant_is_403(service: Service) -> None:
    answer = declare(service, order_body(), tenant=PAYMENT_COMPANY)
    assert answer.status_code == 403
    assert service.client.get("/v1/documents", headers=service.as_(PLATFORM)).json()["items"] == []


def test_a_tenant_that_is_no_party_gets_404_not_403(service: Service) -> None:
    body = order_body()
    location = declare(service, body).headers["Location"]
    assert service.client.get(location, headers=service.as_(LOGISTICS)).status_code == 404
    missing = location[:-1] + "X"
    assert service.client.get(missing, headers=service.as_(LOGISTICS)).status_code == 404


def test_the_payment_company_named_in_an_order_reads_it_masked(service: Service) -> None:
    body = order_body()
    location = declare(service, body).headers["Location"]
    view = service.client.get(location, headers=service.as_(PAYMENT_COMPANY)).json()
    head, original = view["document"]["OrderHead"], body["document"]["OrderHead"]
    assert head["orderNo"] == original["orderNo"]
    for field in ("buyerName", "buyerIdNumber", "buyerTelephone", "consigneeAddress"):
        assert head[field] != original[field]
    assert original["buyerIdNumber"] not in json.dumps(view, ensure_ascii=False)


def test_a_listing_pages_with_an_opaque_cursor_without_skipping_or_repeating(service: Service) -> None:
    numbers = [declare(service, order_body(n)).json()["streamId"] for n in range(1, 8)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = service.client.get("/v1/documents", params=params, headers=service.as_(PLATFORM)).json()
        seen += [item["streamId"] for item in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
        declare(service, order_body(100 + pages))  # new documents arriving meanwhile do not disturb paging
    assert pages == 3
    assert seen == list(reversed(numbers))


def test_a_listing_filters_by_status_and_doc_type_and_shows_only_the_callers_documents(
    service: Service,
) -> None:
    declare(service, order_body(1))
    bad = order_body(2)
    bad["document"]["OrderHead"]["acturalPaid"] = "0.01"
    declare(service, bad)
    mine = service.client.get("/v1/documents", headers=service.as_(PLATFORM)).json()["items"]
    assert {i["phase"] for i in mine} == {"released", "refused"}
    refused = service.client.get("/v1/documents", params={"status": "refused"}, headers=service.as_(PLATFORM))
    assert [i["phase"] for i in refused.json()["items"]] == ["refused"]
    payments = service.client.get(
        "/v1/documents", params={"docType": "CEB411"}, headers=service.as_(PLATFORM)
    )
    assert payments.json()["items"] == []
    payer_view = service.client.get("/v1/documents", headers=service.as_(PAYMENT_COMPANY)).json()["items"]
    assert [i["phase"] for i in payer_view] == ["released"]  # named as payCode in the valid order only
    assert service.client.get("/v1/documents", headers=service.as_(LOGISTICS)).json()["items"] == []


def test_a_listing_filters_by_the_time_of_the_last_change_given_as_an_iso_date_time(service: Service) -> None:
    declare(service, order_body(1))
    ask = {"headers": service.as_(PLATFORM)}
    since_2000 = service.client.get("/v1/documents", params={"updatedFrom": "2000-01-01T00:00:00Z"}, **ask)
    assert len(since_2000.json()["items"]) == 1
    before_2000 = service.client.get("/v1/documents", params={"updatedBefore": "2000-01-01T00:00:00"}, **ask)
    assert before_2000.json()["items"] == []
    for bad in ("-5691", "1700000000", "2026-13-01T00:00:00"):  # a number is no date-time, nor month 13
        answer = service.client.get("/v1/documents", params={"updatedFrom": bad}, **ask)
        assert answer.status_code in (400, 422), (bad, answer.status_code)
        assert "updatedFrom" in answer.text


def test_a_forged_cursor_is_400(service: Service) -> None:
    answer = service.client.get("/v1/documents", params={"cursor": "bm9wZQ"}, headers=service.as_(PLATFORM))
    assert answer.status_code == 400


def test_health_needs_no_key_and_openapi_is_published(service: Service) -> None:
    assert service.client.get("/health").json() == {"status": "ok"}
    spec = service.client.get("/openapi.json").json()
    assert {"/v1/documents", "/v1/documents/{doc_type}/{key}", "/health"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]


def test_a_listing_without_a_read_model_is_503() -> None:
    store = InMemoryDeclarationStore()
    app = DeclarationApp([ORDER_POLICY], store, demo_registry(), ceb_bridge.validate, ceb_bridge.render)
    key, record = issue_key(PLATFORM)
    client = TestClient(make_http_app(app, "order", auth=ApiKeyRegistry([record])))
    assert client.get("/v1/documents", headers={"X-Api-Key": key}).status_code == 503


def test_the_bootstrap_gives_the_api_the_configured_keys(tmp_path: Path) -> None:
    from cbec.settings import Settings
    from cbec.store.event_store import EventStore
    from order_service import bootstrap

    key, record = issue_key(PLATFORM)
    settings = Settings.from_environ({"CBEC_API_KEYS": json.dumps(ApiKeyRegistry([record]).to_json())})
    store = EventStore.open(f"sqlite:///{tmp_path / 'order.db'}", schema="order", name="order")
    readmodel = ReadModel.open(f"sqlite:///{tmp_path / 'readmodel.db'}", "order")
    client = TestClient(bootstrap.build(settings, demo_registry(), store, readmodel=readmodel).http_app)
    body = order_body()
    assert client.post("/v1/documents", json=body, headers={"X-Api-Key": key}).status_code == 202
    assert client.post("/v1/documents", json=body).status_code == 401


def test_declare_document_from_the_sample_generator_round_trips(service: Service) -> None:
    command = DeclareDocument("c-x", PLATFORM, "CEB311", declare_orders(1, start=42)[0].document)
    answer = service.client.post("/v1/documents", content=command.to_json(), headers=service.as_(PLATFORM))
    assert answer.status_code == 202
