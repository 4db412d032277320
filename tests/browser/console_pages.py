"""What the browser tests do on the console's pages: log in, upload a sheet, wait for a status."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from cbec.contracts.commands import DeclareDocument
from cbec_testkit.console_platform import EmbeddedPlatform
from console_service.importing import TEMPLATES
from openpyxl import Workbook
from playwright.sync_api import Browser, Page, expect

PASSWORD = "correct-horse-battery"


def log_in(browser: Browser, url: str, username: str) -> Page:
    """A fresh browser context (its own cookies) signed in as ``username``."""
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{url}/documents")
    return page


def imported_order(order: dict[str, Any]) -> dict[str, Any]:
    """The order as the import template declares it: no tax column (taxTotal 0), paid = goods + freight."""
    head = dict(order["OrderHead"])
    goods = sum((Decimal(line["totalPrice"]) for line in order["OrderList"]), Decimal(0))
    head.update(taxTotal="0", goodsValue=f"{goods:.2f}", acturalPaid=f"{goods + Decimal(head['freight']):.2f}")
    return {"OrderHead": head, "OrderList": [dict(line) for line in order["OrderList"]]}


def order_rows(order: dict[str, Any]) -> list[dict[str, str]]:
    head = order["OrderHead"]
    columns = {c.header: c.field for c in TEMPLATES["CEB311"].columns}
    rows = []
    for line in order["OrderList"]:
        row = {}
        for header, field in columns.items():
            part, _, name = field.partition(".")
            row[header] = str((line if part == "List" else head).get(name, ""))
        rows.append(row)
    return rows


def head_rows(doc_type: str, documents: list[dict[str, Any]], ebp_code: str = "") -> list[dict[str, str]]:
    template = TEMPLATES[doc_type]
    out = []
    for document in documents:
        head = document[template.head]
        out.append({c.header: ebp_code if c.field == "Command.ebpCode" else str(head.get(c.field.split(".")[1], ""))
                    for c in template.columns})
    return out


def write_xlsx(path: Path, doc_type: str, rows: list[dict[str, str]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    headers = TEMPLATES[doc_type].headers()
    sheet.append(headers)
    for row in rows:
        sheet.append([row.get(h, "") for h in headers])
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.number_format = "@"  # text cells, as the template has them
    book.save(path)
    return path


def write_csv(path: Path, doc_type: str, rows: list[dict[str, str]]) -> Path:
    headers = TEMPLATES[doc_type].headers()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(h, "") for h in headers])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def upload(page: Page, url: str, doc_type: str, file: Path) -> None:
    page.goto(f"{url}/import")
    page.get_by_label("单证类型").select_option(doc_type)
    page.get_by_label("文件（.xlsx 或 .csv）").set_input_files(str(file))
    page.get_by_role("button", name="上传并预览").click()
    expect(page.get_by_role("heading", name="导入预览", exact=False)).to_be_visible()


def commit(page: Page, name: str) -> None:
    expect(page.locator("#summary")).to_have_text("全部行校验通过")
    page.get_by_label("批次名称").fill(name)
    page.get_by_role("button", name="提交批次").click()
    expect(page.get_by_role("heading", name=f"批次 · {name}")).to_be_visible()


def declare(platform: EmbeddedPlatform, command: DeclareDocument) -> dict[str, Any]:
    """A declaration through the platform's HTTP API (as the console's own calls go)."""
    body = json.loads(command.to_json())
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        reply = pool.submit(asyncio.run, platform.platform.declare(command.sender, body)).result()
    assert reply.status == 202, reply.body
    return reply.body


def wait_for_text(page: Page, selector: str, text: str, timeout: float = 60.0) -> None:
    """Reload ``page`` until ``selector`` holds ``text`` (a server-rendered page does not update itself)."""
    deadline = time.monotonic() + timeout
    while True:
        locator = page.locator(selector)
        if locator.count() and text in locator.first.inner_text():
            return
        assert time.monotonic() < deadline, f"{selector} never showed {text!r}: {locator.all_inner_texts()}"
        time.sleep(0.5)
        page.reload()
