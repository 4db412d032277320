"""The console's pages against a recording fake platform: sessions, CSRF, tenancy, environments."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cbec_testkit.samples import parties
from cbec_testkit.tenants import demo_registry
from console_service.accounts import ConsoleRole, Environment, MemoryAccounts, Passwords, User
from console_service.app import ConsoleConfig, create_app, document_from_form, field_of
from console_service.platform import Reply
from fastapi.testclient import TestClient

PLATFORM, PAYMENT = parties.PLATFORM, parties.PAYMENT_COMPANY
PASSWORD = "a-long-enough-password"


class FakePlatform:
    """Answers listings with one document and records who asked for what."""

    def __init__(self, environment: str) -> None:
        self.environment = environment
        self.calls: list[tuple[str, str, Any]] = []

    async def declare(self, tenant: str, command: dict[str, Any]) -> Reply:
        self.calls.append(("declare", tenant, command))
        return Reply(202, {"result": "accepted", "status": "received", "errors": []})

    async def listing(self, tenant: str, doc_type: str, params: dict[str, str]) -> Reply:
        self.calls.append(("list", tenant, {"docType": doc_type, **params}))
        return Reply(200, {"items": [], "nextCursor": "next-page" if "cursor" not in params else None})

    async def document(self, tenant: str, doc_type: str, key: list[str]) -> Reply:
        self.calls.append(("document", tenant, key))
        return Reply(404, {"errors": []})

    def signed_xml(self, file_name: str) -> bytes | None:
        return None


@pytest.fixture
def setup() -> tuple[TestClient, FakePlatform, FakePlatform, MemoryAccounts]:
    passwords = Passwords()
    accounts = MemoryAccounts()
    accounts.add_user(User("pay", passwords.hash(PASSWORD), {PAYMENT: ConsoleRole.OPERATOR}))
    accounts.add_user(User("ops", passwords.hash(PASSWORD), {}, platform_operator=True))
    sandbox, production = FakePlatform("sandbox"), FakePlatform("production")
    config = ConsoleConfig("unit-test-secret", demo_registry(), accounts,
                           {Environment.SANDBOX: sandbox, Environment.PRODUCTION: production},
                           passwords=passwords, https_only=False)
    return TestClient(create_app(config)), sandbox, production, accounts


def csrf(client: TestClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def log_in(client: TestClient, user: str) -> None:
    answer = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": csrf(client)},
                         follow_redirects=False)
    assert answer.status_code == 303


def test_every_page_wants_a_session(setup: Any) -> None:
    client = setup[0]
    for path in ("/documents", "/import", "/onboarding", "/clearances/x:y"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_wrong_password_is_refused_and_the_session_cookie_is_httponly_and_strict(setup: Any) -> None:
    client = setup[0]
    wrong = client.post("/login", data={"username": "pay", "password": "nope-nope-nope", "csrf_token": csrf(client)})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    token = csrf(client)
    answer = client.post("/login", data={"username": "pay", "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_a_login_without_the_csrf_token_is_refused(setup: Any) -> None:
    client = setup[0]
    answer = client.post("/login", data={"username": "pay", "password": PASSWORD})
    assert answer.status_code == 403


def test_listings_go_to_the_sandbox_as_the_users_own_enterprise_with_its_cursor(setup: Any) -> None:
    client, sandbox, production, _ = setup
    log_in(client, "pay")
    page = client.get("/documents", params={"number": "PAY1", "dateFrom": "2026-12-01", "dateTo": "2026-12-07"})
    assert page.status_code == 200
    [(kind, tenant, params)] = sandbox.calls
    assert (kind, tenant, params["docType"], params["number"]) == ("list", PAYMENT, "CEB411", "PAY1")
    assert params["updatedFrom"] == "2026-12-01T00:00:00" and params["updatedBefore"] == "2026-12-08T00:00:00"
    assert "cursor=next-page" in page.text
    client.get("/documents", params={"cursor": "next-page"})
    assert sandbox.calls[-1][2]["cursor"] == "next-page"
    assert production.calls == []


def test_a_user_cannot_switch_to_an_enterprise_not_their_own(setup: Any) -> None:
    client = setup[0]
    log_in(client, "pay")
    answer = client.post("/enterprise", data={"enterprise": PLATFORM, "csrf_token": csrf(client, "/documents")})
    assert answer.status_code == 403


def test_only_the_platform_operator_promotes_and_then_production_is_used(setup: Any) -> None:
    client, sandbox, production, accounts = setup
    log_in(client, "pay")
    refused = client.post(f"/onboarding/{PAYMENT}/environment",
                          data={"environment": "production", "csrf_token": csrf(client, "/documents")})
    assert refused.status_code == 403 and accounts.environment(PAYMENT) is Environment.SANDBOX
    operator = TestClient(client.app)
    log_in(operator, "ops")
    promoted = operator.post(f"/onboarding/{PAYMENT}/environment", follow_redirects=False,
                             data={"environment": "production", "csrf_token": csrf(operator, "/onboarding")})
    assert promoted.status_code == 303 and accounts.environment(PAYMENT) is Environment.PRODUCTION
    client.get("/documents")
    assert production.calls and production.calls[-1][1] == PAYMENT


def test_the_validation_endpoint_needs_the_csrf_header_and_names_the_form_field(setup: Any) -> None:
    client = setup[0]
    log_in(client, "pay")
    body = {"PaymentHead.orderNo": "", "PaymentHead.amountPaid": "1.1234567"}
    assert client.post("/api/validate/CEB411", json=body).status_code == 403
    answer = client.post("/api/validate/CEB411", json=body, headers={"X-CSRF-Token": csrf(client, "/documents")})
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"PaymentHead.orderNo", "PaymentHead.amountPaid"} <= fields


def test_form_fields_and_finding_paths_map_both_ways() -> None:
    document = document_from_form("CEB311", {"OrderHead.orderNo": "A", "OrderHead.appType": "9",
                                             "OrderList.1.qty": "2", "OrderList.0.qty": "1", "csrf_token": "x"})
    assert document == {"OrderHead": {"orderNo": "A"}, "OrderList": [{"qty": "1"}, {"qty": "2"}]}
    assert field_of("Order[1].OrderList[2].qty") == "OrderList.1.qty"
    assert field_of("Order[1].OrderHead.orderNo") == "OrderHead.orderNo"
    assert field_of("$") == ""


def test_the_operator_view_is_for_the_platform_operator_only(setup: Any) -> None:
    client, sandbox, _, _ = setup
    log_in(client, "pay")
    assert client.get("/operator").status_code == 403
    operator = TestClient(client.app)
    log_in(operator, "ops")
    page = operator.get("/operator")
    assert page.status_code == 200 and f"({PAYMENT})" in page.text
    assert {call[1] for call in sandbox.calls} >= {PLATFORM, PAYMENT}  # read per tenant, with its own key


def test_a_warehouse_hands_a_parcel_to_a_courier_who_declares_its_waybill_in_one_step() -> None:
    passwords, accounts = Passwords(), MemoryAccounts()
    accounts.add_user(User("wh", passwords.hash(PASSWORD), {parties.DECLARANT: ConsoleRole.OPERATOR}))
    accounts.add_user(User("courier", passwords.hash(PASSWORD), {parties.LOGISTICS_COMPANY: ConsoleRole.OPERATOR}))
    accounts.add_user(User("pay", passwords.hash(PASSWORD), {PAYMENT: ConsoleRole.OPERATOR}))
    sandbox = FakePlatform("sandbox")
    app = create_app(ConsoleConfig("unit-test-secret", demo_registry(), accounts, {Environment.SANDBOX: sandbox},
                                   passwords=passwords, https_only=False))
    warehouse, courier, payer = TestClient(app), TestClient(app), TestClient(app)
    for client, name in ((warehouse, "wh"), (courier, "courier"), (payer, "pay")):
        log_in(client, name)
    assert payer.get("/handoffs").status_code == 403
    parcel = {"orderNo": "DEMO1", "ebpCode": PLATFORM, "logisticsNo": "LN1", "weight": "1.2", "packNo": "1",
              "freight": "0", "consignee": "收件人", "consigneeTelephone": "13900000000", "consigneeAddress": "上海"}
    posted = warehouse.post("/handoffs", follow_redirects=False,
                            data={**parcel, "courier": parties.LOGISTICS_COMPANY,
                                  "csrf_token": csrf(warehouse, "/handoffs")})
    assert posted.status_code == 303 and sandbox.calls == []
    page = courier.get("/handoffs")
    [parcel_id] = re.findall(r'action="/handoffs/([0-9a-f]+)/declare"', page.text)
    assert payer.post(f"/handoffs/{parcel_id}/declare", data={"csrf_token": csrf(payer, "/documents")}).status_code \
        == 404  # not addressed to the payment company
    courier.post(f"/handoffs/{parcel_id}/declare", data={"csrf_token": csrf(courier, "/handoffs")})
    courier.post(f"/handoffs/{parcel_id}/declare", data={"csrf_token": csrf(courier, "/handoffs")})  # once only
    [(kind, tenant, command)] = [call for call in sandbox.calls if call[0] == "declare"]
    assert (kind, tenant, command["docType"], command["ebpCode"]) == ("declare", parties.LOGISTICS_COMPANY, "CEB511",
                                                                        PLATFORM)
    head = command["document"]["LogisticsHead"]
    assert head["logisticsCode"] == parties.LOGISTICS_COMPANY and head["logisticsNo"] == "LN1"
    assert "accepted" in warehouse.get("/handoffs").text
