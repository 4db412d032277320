"""Import templates of the export documents (收款单 CEB403, export waybill CEB505, export list CEB603, 运抵单
CEB507, 离境单 CEB509): a sheet made of the sample documents builds them back; a bad cell is found on its
cell by the rule the entry form applies; a role whose service would refuse the document gets 403; the
templates download with Chinese or English headers, and a sheet with either imports."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from dataclasses import replace
from typing import Any

import pytest
from cbec_testkit.samples import export as samples
from cbec_testkit.samples import parties
from cbec_testkit.tenants import demo_registry
from console_service import importing
from console_service.accounts import ConsoleRole, Environment, MemoryAccounts, Passwords, User
from console_service.app import ConsoleConfig, create_app
from console_service.platform import Reply
from fastapi.testclient import TestClient
from openpyxl import load_workbook

PASSWORD = "a-long-enough-password"
TENANTS = demo_registry()
PLATFORM_OWNED = ("guid", "appType", "appTime", "appStatus")
C1, C2 = samples.ExportClearance(1), samples.ExportClearance(2)

# Each template's sample documents (as the test kit declares them) and the command fields beside them;
# the enterprise that imports it.
SAMPLES: dict[str, tuple[str, list[tuple[dict[str, Any], dict[str, str]]]]] = {
    "CEB403": (parties.PLATFORM, [(samples.collection_document(C1), {}), (samples.collection_document(C2), {})]),
    "CEB505": (parties.LOGISTICS_COMPANY, [(samples.waybill_document(C1), {"orderNo": C1.order_no})]),
    "CEB603": (parties.DECLARANT, [(samples.inventory_document(C1), {}), (samples.inventory_document(C2), {})]),
    "CEB507": (parties.SITE_OPERATOR, [(samples.arrival_document([C1, C2, samples.ExportClearance(3)], "A1"), {})]),
    "CEB509": (parties.LOGISTICS_COMPANY, [(samples.departure_document([C1, C2], "D1"), {})]),
}


def rows_of(template: importing.Template, documents: list[tuple[dict[str, Any], dict[str, str]]]) -> list[
        importing.Row]:
    """The sheet rows holding ``documents``: one per line (or per document), each cell from its field."""
    rows: list[importing.Row] = []
    for document, envelope in documents:
        head = template.head_of(document)
        lines = document.get(template.lines, []) if template.lines else [{}]
        for line in lines:
            cells = {}
            for column in template.columns:
                part, _, name = column.field.partition(".")
                source = {"Head": head, "List": line, "Command": envelope}[part]
                cells[column.header] = str(source.get(name, ""))
            rows.append(importing.Row(len(rows) + 2, cells))
    return rows


def without_platform_fields(document: dict[str, Any], template: importing.Template) -> dict[str, Any]:
    out = {k: v for k, v in document.items() if k not in PLATFORM_OWNED}
    if template.head:
        out[template.head] = {k: v for k, v in document[template.head].items() if k not in PLATFORM_OWNED}
    return out


@pytest.mark.parametrize("doc_type", list(SAMPLES))
def test_a_sheet_of_the_sample_documents_builds_them_back_without_a_finding(doc_type: str) -> None:
    template = importing.TEMPLATES[doc_type]
    enterprise, documents = SAMPLES[doc_type]
    rows = rows_of(template, documents)
    built = importing.validate_rows(template, rows, TENANTS.get(enterprise))
    assert [r.errors for r in rows] == [{} for _ in rows]
    assert [b.document for b in built] == [without_platform_fields(d, template) for d, _ in documents]
    assert [b.command_fields() for b in built] == [e for _, e in documents]
    assert len(set(template.headers())) == len(set(template.headers(english=True))) == len(template.columns)


def bad(doc_type: str, row: int, header: str, value: str) -> importing.Row:
    """The sample sheet with one cell changed, validated; the row that holds it."""
    template = importing.TEMPLATES[doc_type]
    enterprise, documents = SAMPLES[doc_type]
    rows = rows_of(template, documents)
    rows[row].cells[header] = value
    importing.validate_rows(template, rows, TENANTS.get(enterprise))
    assert [r.number for r in rows if r.errors] == [rows[row].number]  # only that row
    return rows[row]


@pytest.mark.parametrize(("doc_type", "row", "header", "value", "rule"), [
    ("CEB403", 1, "币制", "US", "CBEC-LENGTH Receipts[1].currency"),  # the second collection
    ("CEB505", 0, "物流运单编号", "EL" + "9" * 40, "CBEC-LENGTH Logistics[1].logisticsNo"),
    ("CEB603", 1, "计量单位", "件", "CBEC-LENGTH Inventory[1].InventoryList[1].unit"),  # the second list's line
    ("CEB507", 2, "物流运单编号", "W" * 33, "CBEC-LENGTH Arrival[1].ArrivalList[3].logisticsNo"),  # third line
    ("CEB509", 1, "物流运单编号", "W" * 33, "CBEC-LENGTH Departure[1].DepartureList[2].logisticsNo"),
])
def test_a_bad_cell_is_found_on_its_cell_naming_the_rule(doc_type: str, row: int, header: str, value: str,
                                                          rule: str) -> None:
    found = bad(doc_type, row, header, value)
    [message] = found.errors[header]
    assert message.startswith(rule)


def test_the_sheet_itself_finds_decimals_and_missing_cells_first() -> None:
    assert bad("CEB603", 0, "总价", "35.001").errors == {"总价": ["at most 2 decimals / 最多 2 位小数"]}
    assert bad("CEB505", 0, "订单编号", "").errors == {"订单编号": ["required / 必填"]}


def test_the_rows_of_one_document_agree_on_its_head() -> None:
    template = importing.TEMPLATES["CEB509"]
    rows = rows_of(template, SAMPLES["CEB509"][1])
    rows[1].cells["运输方式"] = "4"  # the second waybill of the same copNo on another transport mode
    importing.validate_rows(template, rows, TENANTS.get(parties.LOGISTICS_COMPANY))
    assert rows[0].errors == {} and rows[1].errors == {"运输方式": ["differs from row 2 / 与第 2 行不同"]}


def test_a_strategy_fills_the_lists_trade_mode_and_refuses_a_list_under_a_declaration_strategy() -> None:
    template = importing.TEMPLATES["CEB603"]
    enterprise, documents = SAMPLES["CEB603"]
    rows = rows_of(template, documents[:1])
    rows[0].cells["贸易方式"] = ""
    importing.validate_rows(template, rows, TENANTS.get(enterprise))  # no strategy, no tenant default
    assert rows[0].errors["贸易方式"][0].startswith("CBEC-REQUIRED Inventory[1].InventoryHead.tradeMode")
    importing.validate_rows(replace(template, strategy="9710清单"), rows, TENANTS.get(enterprise))
    assert rows[0].errors == {}
    importing.validate_rows(replace(template, strategy="9710报关单"), rows, TENANTS.get(enterprise))
    assert rows[0].errors[""][0].startswith("CBEC-1008 strategy")  # the services' rule: no list


class Accepting:
    environment = "sandbox"

    def __init__(self) -> None:
        self.declared: list[dict[str, Any]] = []

    async def declare(self, tenant: str, command: dict[str, Any]) -> Reply:
        self.declared.append(command)
        return Reply(202, {"result": "accepted", "status": "received", "errors": []})

    async def listing(self, tenant: str, doc_type: str, params: dict[str, str]) -> Reply:
        return Reply(200, {"items": []})

    async def document(self, tenant: str, doc_type: str, key: list[str]) -> Reply:
        return Reply(404, {})

    def signed_xml(self, file_name: str) -> bytes | None:
        return None


def client_for(enterprise: str, platform: Accepting | None = None) -> TestClient:
    passwords, accounts = Passwords(), MemoryAccounts()
    accounts.add_user(User("user", passwords.hash(PASSWORD), {enterprise: ConsoleRole.OPERATOR}))
    config = ConsoleConfig("unit-test-secret", TENANTS, accounts, {Environment.SANDBOX: platform or Accepting()},
                           passwords=passwords, https_only=False)
    client = TestClient(create_app(config))
    client.post("/login", data={"username": "user", "password": PASSWORD, "csrf_token": csrf(client, "/login")})
    return client


def csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


IMPORTS = {  # who imports which: the owning services' sender roles, as the entry forms
    parties.PLATFORM: {"CEB403"},
    parties.PAYMENT_COMPANY: set(),
    parties.LOGISTICS_COMPANY: {"CEB505", "CEB509"},
    parties.DECLARANT: {"CEB603"},
    parties.SITE_OPERATOR: {"CEB507"},
}


@pytest.mark.parametrize("enterprise", list(IMPORTS))
def test_each_role_gets_the_templates_of_what_it_declares_and_403_for_the_others(enterprise: str) -> None:
    client = client_for(enterprise)
    page = client.get("/import").text
    token = csrf(client, "/import")
    for doc_type in SAMPLES:
        download = client.get(f"/import/templates/{doc_type}.xlsx")
        upload = client.post("/import", data={"docType": doc_type, "csrf_token": token},
                             files={"file": ("x.csv", importing.template_csv(importing.TEMPLATES[doc_type]))},
                             follow_redirects=False)
        if doc_type in IMPORTS[enterprise]:
            assert download.status_code == 200 and f"{doc_type}.xlsx" in page
            assert upload.status_code == 303 and "/import/drafts/" in upload.headers["location"]
        else:
            assert (download.status_code, upload.status_code) == (403, 403), doc_type
            assert f"{doc_type}.xlsx" not in page


@pytest.mark.parametrize("doc_type", list(SAMPLES))
def test_templates_download_with_chinese_or_english_headers_as_text_cells(doc_type: str) -> None:
    template = importing.TEMPLATES[doc_type]
    client = client_for(SAMPLES[doc_type][0])
    chinese = load_workbook(io.BytesIO(client.get(f"/import/templates/{doc_type}.xlsx").content)).active
    english = client.get(f"/import/templates/{doc_type}.csv?headers=en").content.decode("utf-8-sig")
    assert chinese is not None and [c.value for c in chinese[1]] == template.headers()
    assert chinese.cell(row=2, column=1).number_format == "@"
    assert next(csv.reader(io.StringIO(english))) == [c.english for c in template.columns]


def test_a_departure_sheet_with_english_headers_commits_one_departure_per_copno() -> None:
    template = importing.TEMPLATES["CEB509"]
    rows = rows_of(template, SAMPLES["CEB509"][1])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(template.headers(english=True))
    for r in rows:
        writer.writerow([r.cells[h] for h in template.headers()])
    platform = Accepting()
    client = client_for(parties.LOGISTICS_COMPANY, platform)
    uploaded = client.post("/import", data={"docType": "CEB509", "csrf_token": csrf(client, "/import")},
                           files={"file": ("departures.csv", out.getvalue().encode())}, follow_redirects=False)
    draft = uploaded.headers["location"]
    assert "全部行校验通过" in client.get(draft).text
    client.post(draft, data={"action": "commit", "name": "departures", "csrf_token": csrf(client, draft)})
    deadline = time.monotonic() + 10
    while not platform.declared and time.monotonic() < deadline:
        asyncio.run(asyncio.sleep(0.05))
    [command] = platform.declared
    document = command["document"]
    assert command["docType"] == "CEB509" and document["DepartureHead"]["logisticsCode"] == parties.LOGISTICS_COMPANY
    assert [(x["gnum"], x["logisticsNo"]) for x in document["DepartureList"]] == [
        ("1", C1.logistics_no), ("2", C2.logistics_no)]


@pytest.mark.parametrize("path", [
    "/import/templates/CEB403.xlsx?headers=" + "en" * 3000, "/import/templates/CEB403.xlsx?headers=en%00",
    "/import/templates/CEB403", "/import/templates/CEB403.exe", "/import/templates/..%2F..%2Fetc%2Fpasswd.csv",
    "/import/templates/" + "C" * 5000 + ".csv", "/import/templates/CEB403%0d%0aSet-Cookie:x.csv",
    "/import/batches/" + "b" * 3000 + "/results.csv", "/import/batches/%00/results.csv", "/import/drafts/..%2F1",
    "/operator?window=" + "9" * 400, "/tax/list/%0d%0a/x",
])
def test_hostile_import_template_and_operator_addresses_are_4xx_never_a_500(path: str) -> None:
    answer = client_for(parties.PLATFORM).get(path, follow_redirects=False)
    assert 200 <= answer.status_code < 500, (path, answer.status_code, answer.text[:200])
    assert "\r" not in answer.headers.get("content-disposition", "") and "Traceback" not in answer.text


def test_another_enterprise_s_draft_and_batch_are_not_found_as_an_unknown_one_is() -> None:
    passwords, accounts = Passwords(), MemoryAccounts()
    accounts.add_user(User("owner", passwords.hash(PASSWORD), {parties.PLATFORM: ConsoleRole.OPERATOR}))
    accounts.add_user(User("other", passwords.hash(PASSWORD), {parties.DECLARANT: ConsoleRole.OPERATOR}))
    app = create_app(ConsoleConfig("unit-test-secret", TENANTS, accounts, {Environment.SANDBOX: Accepting()},
                                   passwords=passwords, https_only=False))
    owner, other = TestClient(app), TestClient(app)  # one console, two sessions
    for client, user in ((owner, "owner"), (other, "other")):
        client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": csrf(client, "/login")})
    upload = owner.post("/import", data={"docType": "CEB403", "csrf_token": csrf(owner, "/import")},
                        files={"file": ("x.csv", importing.template_csv(importing.TEMPLATES["CEB403"]))},
                        follow_redirects=False)
    draft = upload.headers["location"].rsplit("/", 1)[-1]
    assert owner.get(f"/import/drafts/{draft}").status_code == 200
    for path in (f"/import/drafts/{draft}", f"/import/batches/{draft}/results.csv", f"/import/batches/{draft}"):
        assert other.get(path).status_code == other.get(path.replace(draft, "no-such-id")).status_code == 404
