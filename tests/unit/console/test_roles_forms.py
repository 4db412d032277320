"""Per role: the menu of documents an enterprise declares and searches, the entry forms generated from
the CEB field tables, the 403 for another role's form, and what a form sends (through the platform's API,
as the enterprise, with the command fields beside the document)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cbec.declaration.doctypes import BY_CODE
from cbec.tenants import Role
from cbec_testkit.samples import export as export_samples
from cbec_testkit.samples import parties
from cbec_testkit.tenants import demo_registry
from console_service import roles
from console_service.accounts import ConsoleRole, Environment, MemoryAccounts, Passwords, User
from console_service.app import ConsoleConfig, create_app
from console_service.platform import Reply
from fastapi.testclient import TestClient

PASSWORD = "a-long-enough-password"
USERS = {
    "shop": {parties.PLATFORM: ConsoleRole.OPERATOR},
    "pay": {parties.PAYMENT_COMPANY: ConsoleRole.OPERATOR},
    "courier": {parties.LOGISTICS_COMPANY: ConsoleRole.OPERATOR},
    "warehouse": {parties.DECLARANT: ConsoleRole.OPERATOR},
    "warehouse-viewer": {parties.DECLARANT: ConsoleRole.VIEWER},
    "site": {parties.SITE_OPERATOR: ConsoleRole.ADMIN},
}


class RecordingPlatform:
    """Accepts every declaration and remembers it; knows one released list to start a cancel from."""

    environment = "sandbox"

    def __init__(self) -> None:
        self.declared: list[tuple[str, dict[str, Any]]] = []
        self.list_document = {"InventoryHead": {"copNo": "COP1", "orderNo": "ORD1", "ebpCode": parties.PLATFORM,
                                                "agentCode": parties.DECLARANT, "logisticsNo": "LN1",
                                                "guid": "not-copied"}, "InventoryList": []}

    async def declare(self, tenant: str, command: dict[str, Any]) -> Reply:
        self.declared.append((tenant, command))
        return Reply(202, {"result": "accepted", "status": "received", "errors": []})

    async def listing(self, tenant: str, doc_type: str, params: dict[str, str]) -> Reply:
        return Reply(200, {"items": [], "nextCursor": None})

    async def document(self, tenant: str, doc_type: str, key: list[str]) -> Reply:
        if doc_type == "CEB621" and key == [parties.DECLARANT, "COP1"] and tenant == parties.DECLARANT:
            return Reply(200, {"document": self.list_document, "clearanceKey": f"{parties.PLATFORM}:ORD1"})
        if self.declared and doc_type == self.declared[-1][1]["docType"]:
            return Reply(200, {"clearanceKey": "E:X:Y", "status": "received"})
        return Reply(404, {"errors": []})

    def signed_xml(self, file_name: str) -> bytes | None:
        return None


@pytest.fixture
def setup() -> tuple[TestClient, RecordingPlatform]:
    passwords = Passwords()
    accounts = MemoryAccounts()
    for name, memberships in USERS.items():
        accounts.add_user(User(name, passwords.hash(PASSWORD), dict(memberships)))
    platform = RecordingPlatform()
    config = ConsoleConfig("unit-test-secret", demo_registry(), accounts,
                           {Environment.SANDBOX: platform, Environment.PRODUCTION: None},
                           passwords=passwords, https_only=False)
    return TestClient(create_app(config)), platform


def token(client: TestClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def signed_in(setup: Any, user: str) -> TestClient:
    client = TestClient(setup[0].app)
    answer = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token(client)},
                         follow_redirects=False)
    assert answer.status_code == 303
    return client


def menu(page: str, name: str) -> list[str]:
    found = re.search(rf'data-testid="{name}">(.*?)</ul>', page, re.S)
    assert found, page[:500]
    return re.findall(r'href="/(?:declare/|documents\?docType=)(CEB\d+)"', found.group(1))


@pytest.mark.parametrize(("user", "declares", "searches"), [
    ("shop", ["CEB311", "CEB303", "CEB403"], ["CEB311", "CEB621", "CEB303", "CEB403", "CEB603"]),
    ("pay", ["CEB411"], ["CEB411", "CEB403"]),
    ("courier", ["CEB511", "CEB513", "CEB505", "CEB509"],
     ["CEB511", "CEB513", "CEB711", "CEB505", "CEB507", "CEB509", "CEB607"]),
    ("warehouse", ["CEB621", "CEB623", "CEB625", "CEB603", "CEB605", "CEB213"],
     ["CEB621", "CEB623", "CEB625", "CEB603", "CEB605", "CEB213", "CEB607", "CEB701"]),
    ("site", ["CEB711", "CEB507", "CEB215"], ["CEB711", "CEB507", "CEB215"]),
])
def test_each_role_sees_only_its_own_menu(setup: Any, user: str, declares: list[str], searches: list[str]) -> None:
    page = signed_in(setup, user).get("/declare").text
    assert menu(page, "declare-menu") == declares
    assert menu(page, "query-menu") == searches


def test_the_menus_follow_the_services_sender_roles() -> None:
    """A form the owning service would refuse for the role is not offered (收款单 comes from the seller,
    the 运抵单 and the entry list from the supervision site)."""
    from logistics_service.domain import ARRIVAL_POLICY, ENTRY_POLICY
    from payment_service.domain import COLLECTION_POLICY

    for policy in (COLLECTION_POLICY, ARRIVAL_POLICY, ENTRY_POLICY):
        offered_to = {role for role, types in roles.DECLARES.items() if policy.code in types}
        assert offered_to and offered_to <= policy.sender_roles, policy.code


@pytest.mark.parametrize(("user", "doc_type"), [
    ("pay", "CEB303"), ("pay", "CEB623"), ("courier", "CEB623"), ("courier", "CEB507"), ("shop", "CEB411"),
    ("site", "CEB505"), ("warehouse", "CEB303"), ("shop", "CEB999"),
])
def test_another_roles_form_is_forbidden_to_read_and_to_post(setup: Any, user: str, doc_type: str) -> None:
    client = signed_in(setup, user)
    assert client.get(f"/declare/{doc_type}").status_code == 403
    posted = client.post(f"/declare/{doc_type}", data={"csrf_token": token(client, "/documents")})
    assert posted.status_code == 403
    assert setup[1].declared == []


def test_a_viewer_sees_the_menu_but_no_form(setup: Any) -> None:
    client = signed_in(setup, "warehouse-viewer")
    assert "CEB623" in menu(client.get("/declare").text, "declare-menu")
    assert client.get("/declare/CEB623").status_code == 403


def test_a_form_has_every_xsd_field_labelled_with_its_hint_and_the_enterprises_own_code(setup: Any) -> None:
    page = signed_in(setup, "warehouse").get("/declare/CEB623").text
    for field in ("customsCode", "invtNo", "reason", "buyerIdNumber", "agentCode"):
        assert f'<label for="f-InvtCancel.{field}">{field}' in page
        assert f'aria-describedby="h-InvtCancel.{field} e-InvtCancel.{field}"' in page
    assert 'name="InvtCancel.guid"' not in page  # the platform fills it
    assert re.search(rf'name="InvtCancel.agentCode" value="{parties.DECLARANT}"', page)
    inputs = dict(re.findall(r'<input id="f-(InvtCancel\.\w+)"([^>]*)>', page))
    assert "required" in inputs["InvtCancel.reason"] and "required" not in inputs["InvtCancel.note"]
    assert 'maxlength="' in inputs["InvtCancel.reason"]


def test_the_menu_and_forms_speak_english_by_the_switch(setup: Any) -> None:
    client = signed_in(setup, "warehouse")
    client.cookies.set("lang", "en")
    page = client.get("/declare").text
    assert "Documents this enterprise declares" in page and "CEB623 · List cancel" in page
    assert "<h1>CEB605 · Export list cancel</h1>" in client.get("/declare/CEB605").text


def test_a_cancel_starts_from_its_list_and_is_sent_as_the_declarant(setup: Any) -> None:
    client, platform = signed_in(setup, "warehouse"), setup[1]
    page = client.get(f"/declare/CEB623?source=CEB621/{parties.DECLARANT}/COP1").text
    assert 'name="InvtCancel.copNo" value="COP1"' in page and 'name="InvtCancel.orderNo" value="ORD1"' in page
    fields = dict(re.findall(r'name="(InvtCancel\.\w+)" value="([^"]*)"', page))
    fields.update({"InvtCancel.customsCode": "5165", "InvtCancel.ebpName": "平台", "InvtCancel.ebcCode": "3105960009",
                   "InvtCancel.ebcName": "电商", "InvtCancel.logisticsCode": parties.LOGISTICS_COMPANY,
                   "InvtCancel.logisticsName": "物流", "InvtCancel.invtNo": "516520261000000001",
                   "InvtCancel.buyerIdType": "1", "InvtCancel.buyerIdNumber": "110101199001011234",
                   "InvtCancel.buyerName": "张三", "InvtCancel.buyerTelephone": "13800000000",
                   "InvtCancel.reason": "买家取消订单"})
    answer = client.post("/declare/CEB623", data={**fields, "csrf_token": token(client, "/documents")},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text[-2000:]
    [(tenant, command)] = platform.declared
    assert tenant == parties.DECLARANT and command["sender"] == parties.DECLARANT
    assert command["docType"] == "CEB623" and command["document"]["reason"] == "买家取消订单"
    assert "guid" not in command["document"] and "note" not in command["document"]


def test_a_form_with_findings_is_shown_again_with_each_on_its_field_and_nothing_is_sent(setup: Any) -> None:
    client, platform = signed_in(setup, "warehouse"), setup[1]
    answer = client.post("/declare/CEB623", data={"InvtCancel.reason": "x", "csrf_token": token(client, "/documents")})
    assert answer.status_code == 422 and platform.declared == []
    assert "CBEC-REQUIRED" in answer.text and "InvtCancel[1].invtNo" in answer.text


def test_an_export_order_form_offers_the_strategy_presets_and_sends_the_chosen_one(setup: Any) -> None:
    client, platform = signed_in(setup, "shop"), setup[1]
    page = client.get("/declare/CEB303").text
    assert re.findall(r'<option value="(9[0-9]{3}[^"]+)"', page) == ["9610清单", "9710清单", "9810清单", "9710报关单",
                                                                       "9810报关单"]
    order = export_samples.order_document(export_samples.ExportClearance(1, "9710"))
    data = {f"OrderHead.{k}": v for k, v in order["OrderHead"].items()}
    data |= {f"OrderList.0.{k}": v for k, v in order["OrderList"][0].items()}
    data.pop("OrderHead.orderType")  # the preset fills it (the service applies it)
    answer = client.post("/declare/CEB303", data={**data, "cmd.strategy": "9710报关单",
                                                  "csrf_token": token(client, "/documents")}, follow_redirects=False)
    assert answer.status_code == 303, answer.text[-2000:]
    assert answer.headers["location"].startswith("/clearances/E:X:Y")
    [(_, command)] = platform.declared
    assert command["strategy"] == "9710报关单" and command["document"]["OrderList"][0]["itemNo"] == "SKU-E001"


def test_an_export_waybill_needs_its_order_number_in_the_command(setup: Any) -> None:
    client, platform = signed_in(setup, "courier"), setup[1]
    waybill = export_samples.waybill_document(export_samples.ExportClearance(1))
    data = {f"Logistics.{k}": v for k, v in waybill.items()}
    answer = client.post("/declare/CEB505", data={**data, "csrf_token": token(client, "/documents")})
    assert answer.status_code == 422 and platform.declared == []
    assert 'orderNo is required' in answer.text
    sent = client.post("/declare/CEB505", data={**data, "cmd.orderNo": "EXP9610000001",
                                                "csrf_token": token(client, "/documents")}, follow_redirects=False)
    assert sent.status_code == 303 and platform.declared[0][1]["orderNo"] == "EXP9610000001"


def test_add_a_line_keeps_what_was_typed(setup: Any) -> None:
    client = signed_in(setup, "site")
    answer = client.post("/declare/CEB507", data={"ArrivalHead.copNo": "ARR1", "ArrivalList.0.logisticsNo": "LN1",
                                                  "action": "addline", "csrf_token": token(client, "/documents")})
    assert answer.status_code == 200
    assert 'name="ArrivalHead.copNo" value="ARR1"' in answer.text
    assert 'name="ArrivalList.0.logisticsNo" value="LN1"' in answer.text and 'name="ArrivalList.1.gnum"' in answer.text


def test_the_check_endpoint_places_findings_of_flat_documents_and_of_the_command(setup: Any) -> None:
    client = signed_in(setup, "courier")
    answer = client.post("/api/validate/CEB505", json={"Logistics.logisticsNo": "LN1", "cmd.orderNo": ""},
                         headers={"X-CSRF-Token": token(client, "/documents")})
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"cmd.orderNo", "Logistics.grossWeight", "Logistics.logisticsName"} <= fields


@pytest.mark.parametrize("code", sorted(set().union(*roles.DECLARES.values())))
def test_every_form_type_maps_its_findings_back_to_a_field(code: str) -> None:
    spec = BY_CODE[code]
    form = roles.build_form(spec, {}, {}, 1)
    names = {f.name for f in form.head} | {f.name for line in form.lines for f in line}
    from console_service.checks import core_findings

    required = [e for e in core_findings(code, roles.document_of(spec, {})) if e.code == "CBEC-REQUIRED"]
    assert required
    placed = {roles.field_of(spec, e.path) for e in required}
    assert placed - {""} <= names and placed - {""}


def test_roles_without_a_form_have_an_empty_menu() -> None:
    assert roles.declarable(frozenset()) == []
    assert roles.declarable(frozenset({Role.PAYMENT})) == ["CEB411"]
