"""Export in the console: seed 003's export-order template (text cells, quantity ≤ 5 decimals, totals ≤ 2)
committing CEB303 documents under a chosen strategy preset, and an export clearance's milestones
(arrived, departed, bound, summarised) with the summary it belongs to."""

from __future__ import annotations

import asyncio
import io
import re
import time
from typing import Any

import pytest
from cbec_testkit.samples import export as samples
from cbec_testkit.samples import parties
from cbec_testkit.tenants import demo_registry
from console_service import importing, milestones
from console_service.accounts import ConsoleRole, Environment, MemoryAccounts, Passwords, User
from console_service.app import ConsoleConfig, create_app
from console_service.platform import Reply
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

PASSWORD = "a-long-enough-password"
SEED_003 = ["订单号", "商品货号", "商品名称", "数量", "总额", "单价", "计量单位"]
SELLER = demo_registry().get(parties.PLATFORM)


def row(number: int, order_no: str, **cells: str) -> importing.Row:
    base = {"订单号": order_no, "商品货号": "SKU-1", "商品名称": "陶瓷茶具", "数量": "2", "总额": "70.00", "单价": "35",
            "计量单位": "011"}
    return importing.Row(number, {**base, **cells})


def test_the_export_template_is_seed_003_column_for_column_with_text_cells() -> None:
    template = importing.TEMPLATES["CEB303"]
    assert template.headers() == SEED_003
    sheet = load_workbook(io.BytesIO(importing.template_workbook(template))).active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == SEED_003
    assert all(sheet.cell(row=2, column=n).number_format == "@" for n in range(1, 8))


def test_quantity_keeps_five_decimals_and_totals_two_each_on_its_cell() -> None:
    template = importing.TEMPLATES["CEB303"]
    rows = [row(2, "E1", 数量="1.12345", 总额="39.32", 单价="35"), row(3, "E2", 数量="1.123456"),
            row(4, "E3", 总额="70.001")]
    importing.validate_rows(template, rows, SELLER)
    assert rows[1].errors == {"数量": ["at most 5 decimals / 最多 5 位小数"]}
    assert rows[2].errors == {"总额": ["at most 2 decimals / 最多 2 位小数"]}
    assert "数量" not in rows[0].errors and "总额" not in rows[0].errors


def test_a_customs_code_table_finding_lands_on_the_unit_cell() -> None:
    rows = [row(2, "E1", 计量单位="件")]
    importing.validate_rows(importing.TEMPLATES["CEB303"], rows, SELLER)
    [message] = rows[0].errors["计量单位"]
    assert "Order[1].OrderList[1].unit" in message


@pytest.mark.parametrize(("strategy", "order_type"), [("", "E"), ("9710清单", "B"), ("9810报关单", "W")])
def test_the_strategy_fills_the_order_type_and_the_seller_its_own_codes(strategy: str, order_type: str) -> None:
    from dataclasses import replace

    template = replace(importing.TEMPLATES["CEB303"], strategy=strategy)
    rows = [row(2, "E1"), row(3, "E1", 商品货号="SKU-2", 数量="1", 总额="18", 单价="18")]
    [built] = importing.validate_rows(template, rows, SELLER)
    head = built.document["OrderHead"]
    assert head["orderType"] == order_type and head["ebcCode"] == head["ebpCode"] == parties.PLATFORM
    assert head["goodsValue"] == "88.00" and [x["gnum"] for x in built.document["OrderList"]] == ["1", "2"]


class Recording:
    """Accepts declarations; answers one export clearance's documents and its group documents."""

    environment = "sandbox"

    def __init__(self) -> None:
        self.declared: list[dict[str, Any]] = []
        c = samples.ExportClearance(1)
        self.key = c.clearance_key
        self.docs: dict[tuple[str, str], dict[str, Any]] = {
            ("CEB505", "W"): {"document": samples.waybill_document(c), "clearanceKey": c.clearance_key},
            ("CEB509", "D"): {"document": samples.departure_document([c], "DEP1"), "clearanceKey": "S:DEP1",
                              "spans": [c.clearance_key]},
            ("CEB509", "D2"): {"document": samples.departure_document([samples.ExportClearance(2)], "DEP2"),
                               "clearanceKey": "S:DEP2", "spans": [samples.ExportClearance(2).clearance_key]},
            ("CEB607", "B"): {"document": samples.master_bill_document([(c, "I-1")], "MB1"), "clearanceKey": "M:1",
                              "spans": [c.clearance_key]},
            ("CEB701", "S"): {"document": samples.summary_document(["I-1"], "SUM1"), "clearanceKey": "Y:1",
                              "spans": [c.clearance_key]},
        }

    async def declare(self, tenant: str, command: dict[str, Any]) -> Reply:
        self.declared.append(command)
        return Reply(202, {"result": "accepted", "status": "received", "errors": []})

    async def listing(self, tenant: str, doc_type: str, params: dict[str, str]) -> Reply:
        if "clearanceKey" in params:
            keys = [k for (t, k), d in self.docs.items()
                    if t == doc_type and d["clearanceKey"] == params["clearanceKey"]]
        elif "spansClearance" in params:  # the read model's index of the clearances a group names
            keys = [k for (t, k), d in self.docs.items()
                    if t == doc_type and params["spansClearance"] in d.get("spans", [])]
        else:
            keys = [k for (t, k) in self.docs if t == doc_type]
        return Reply(200, {"items": [{"docType": doc_type, "businessKey": [k], "status": "ok",
                                      "clearanceKey": self.docs[(doc_type, k)]["clearanceKey"]} for k in keys]})

    async def document(self, tenant: str, doc_type: str, key: list[str]) -> Reply:
        found = self.docs.get((doc_type, key[0]))
        if found is None:
            return Reply(404, {})
        return Reply(200, {**found, "status": "已放行", "statusCode": 800, "phase": "receipts", "receipts": [],
                           "waitingFor": [], "errors": []})

    def signed_xml(self, file_name: str) -> bytes | None:
        return None


def client_for(user: str, memberships: dict[str, ConsoleRole], platform: Recording) -> TestClient:
    passwords, accounts = Passwords(), MemoryAccounts()
    accounts.add_user(User(user, passwords.hash(PASSWORD), memberships))
    config = ConsoleConfig("unit-test-secret", demo_registry(), accounts, {Environment.SANDBOX: platform},
                           passwords=passwords, https_only=False)
    client = TestClient(create_app(config))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token.group(1)})
    return client


def csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def test_a_logistics_company_sees_every_milestone_and_the_summary_its_clearance_belongs_to() -> None:
    platform = Recording()
    client = client_for("courier", {parties.LOGISTICS_COMPANY: ConsoleRole.VIEWER}, platform)
    page = client.get(f"/clearances/{platform.key}").text
    steps = dict(re.findall(r'data-testid="milestone-(\w+)">(.*?)</li>', page, re.S))
    assert "D" in steps["departed"] and "D2" not in steps["departed"]  # DEP2 lists another waybill
    assert "尚未发生" in steps["arrived"]
    assert "B" in steps["bound"]
    assert "本企业不是该单证的当事方" in steps["summarised"]  # a carrier reads no summary


def test_the_declarant_sees_the_summary_spanning_its_clearance() -> None:
    platform = Recording()
    platform.docs[("CEB603", "L")] = {"document": samples.inventory_document(samples.ExportClearance(1)),
                                      "clearanceKey": platform.key}
    client = client_for("agent", {parties.DECLARANT: ConsoleRole.VIEWER}, platform)
    page = client.get(f"/clearances/{platform.key}").text
    assert re.search(r'data-testid="summary">[^<]*<a href="/clearances/Y:1">S</a>', page)


def test_milestones_are_only_for_export_clearances() -> None:
    assert milestones.is_export("E:3105960001:EXP1") and not milestones.is_export("3105960001:ORD1")


def test_an_uploaded_export_sheet_commits_orders_under_the_chosen_strategy() -> None:
    platform = Recording()
    client = client_for("shop", {parties.PLATFORM: ConsoleRole.OPERATOR}, platform)
    page = client.get("/import").text
    assert '<option value="9710清单">' in page and "CEB303.xlsx" in page
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(SEED_003)
    sheet.append(["EXPB0001", "SKU-1", "蓝牙耳机", "40", "720", "18", "007"])
    data = io.BytesIO()
    book.save(data)
    uploaded = client.post("/import", data={"docType": "CEB303", "strategy": "9710清单",
                                            "csrf_token": csrf(client, "/import")},
                           files={"file": ("export.xlsx", data.getvalue())}, follow_redirects=False)
    draft = uploaded.headers["location"]
    preview = client.get(draft).text
    assert "9710清单" in preview and "全部行校验通过" in preview
    client.post(draft, data={"action": "commit", "name": "exports", "csrf_token": csrf(client, draft)})
    deadline = time.monotonic() + 10
    while not platform.declared and time.monotonic() < deadline:
        asyncio.run(asyncio.sleep(0.05))
    [command] = platform.declared
    assert command["strategy"] == "9710清单" and command["docType"] == "CEB303"
    assert command["document"]["OrderHead"]["orderType"] == "B"
