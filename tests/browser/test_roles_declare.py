"""Per-role entry forms in a real browser: a warehouse cancels a released list from its clearance page,
the supervision site files the 运抵单 of an export waybill (a logistics company reaching that form is
refused, as its service would refuse the document) and the carrier imports the 离境单 from its template,
each reaching the clearance's milestones; the forms are labelled and keyboard-navigable."""

from __future__ import annotations

from pathlib import Path

from cbec.contracts.commands import DeclareDocument
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, PLATFORM, SITE_OPERATOR, declare_clearance
from cbec_testkit.samples import export as export_samples
from console_service.accounts import Environment
from playwright.sync_api import Browser, Page, expect

from browser.conftest import Console, shot
from browser.console_pages import commit, declare, log_in, wait_for_text, write_xlsx


def field(page: Page, name: str) -> object:
    return page.locator(f'[id="f-{name}"]')


def test_a_warehouse_user_files_a_cancel_for_a_released_list(browser: Browser, console: Console) -> None:
    commands = declare_clearance(7101)
    for command in commands:
        declare(console.sandbox, command)
    head = next(c for c in commands if c.doc_type == "CEB621").document["InventoryHead"]
    clearance = f"{head['ebpCode']}:{head['orderNo']}"

    warehouse = log_in(browser, console.url, "warehouse-op")
    warehouse.goto(f"{console.url}/clearances/{clearance}")
    wait_for_text(warehouse, '[data-testid="status-CEB621"]', "800")
    warehouse.get_by_role("link", name="撤销此清单").click()
    expect(warehouse.get_by_role("heading", name="CEB623 · 撤销申请单")).to_be_visible()
    expect(warehouse.get_by_label("copNo")).to_have_value(head["copNo"])  # started from the list
    expect(warehouse.get_by_label("agentCode")).to_have_value(DECLARANT)

    record = console.sandbox.stack.simulator.find("CEB621", orderNo=head["orderNo"])
    assert record is not None and record.invt_no, "customs numbered the released list"
    warehouse.get_by_label("copNo").fill("X" + head["copNo"])
    warehouse.get_by_label("invtNo").fill(record.invt_no)
    warehouse.get_by_label("reason").fill("x")
    warehouse.get_by_label("reason").fill("")  # validated as typed: the CEB core wants a reason
    expect(warehouse.locator('[id="e-InvtCancel.reason"]')).to_contain_text("CBEC-REQUIRED")
    expect(warehouse.get_by_label("reason")).to_have_attribute("aria-invalid", "true")
    expect(warehouse.locator("#validity")).to_have_text("仍有错误")
    warehouse.get_by_label("reason").fill("买家取消订单")
    expect(warehouse.locator("#validity")).to_have_text("校验通过")
    shot(warehouse, "roles-warehouse-cancel-form")
    warehouse.get_by_role("button", name="申报", exact=True).click()

    expect(warehouse.get_by_test_id("declared")).to_contain_text("CEB623")
    wait_for_text(warehouse, '[data-testid="status-CEB623"]', "399")
    shot(warehouse, "roles-warehouse-cancel-accepted")


def test_the_site_files_the_arrival_of_an_export_waybill_the_carrier_may_not(browser: Browser, console: Console,
                                                                             tmp_path: Path) -> None:
    c = export_samples.ExportClearance(901, "9710")
    strategy = "9710报关单"  # customs-declaration mode: no list, the waybill goes straight on the 运抵单
    declare(console.sandbox, DeclareDocument("browser-arrival-order", PLATFORM, "CEB303",
                                             export_samples.order_document(c), strategy=strategy))
    declare(console.sandbox, DeclareDocument("browser-arrival-waybill", LOGISTICS_COMPANY, "CEB505",
                                             export_samples.waybill_document(c), order_no=c.order_no,
                                             ebc_code=PLATFORM, strategy=strategy))

    carrier = log_in(browser, console.url, "logistics-op")
    carrier.goto(f"{console.url}/declare")
    expect(carrier.get_by_test_id("declare-menu")).not_to_contain_text("CEB507")
    expect(carrier.get_by_test_id("query-menu")).to_contain_text("CEB507")
    refused = carrier.goto(f"{console.url}/declare/CEB507")
    assert refused is not None and refused.status == 403
    expect(carrier.get_by_role("heading", name="无权访问")).to_be_visible()
    carrier.goto(f"{console.url}/clearances/{c.clearance_key}")
    wait_for_text(carrier, '[data-testid="status-CEB505"]', "399")

    # The export documents are in the sandbox; the access story may have promoted the site to production.
    console.accounts.set_environment(SITE_OPERATOR, Environment.SANDBOX, "test")
    site = log_in(browser, console.url, "site-admin")
    expect(site.get_by_test_id("environment")).to_have_text("沙箱（测试环境）")
    site.get_by_role("link", name="单证申报").click()
    site.get_by_test_id("declare-menu").get_by_role("link", name="CEB507 · 运抵单").click()
    arrival = export_samples.arrival_document([c], "ARRB0901")
    for name, value in arrival["ArrivalHead"].items():
        if name not in ("guid", "appType", "appTime", "appStatus", "operatorCode", "operatorName"):
            field(site, f"ArrivalHead.{name}").fill(value)  # type: ignore[attr-defined]
    for name, value in arrival["ArrivalList"][0].items():
        field(site, f"ArrivalList.0.{name}").fill(value)  # type: ignore[attr-defined]
    expect(site.locator("#validity")).to_have_text("校验通过")
    site.get_by_role("button", name="申报", exact=True).click()
    expect(site.get_by_test_id("declared")).to_contain_text("CEB507")
    wait_for_text(site, '[data-testid="status-CEB507"]', "399")
    shot(site, "roles-site-arrival-accepted")

    carrier.goto(f"{console.url}/clearances/{c.clearance_key}")
    wait_for_text(carrier, '[data-testid="milestone-arrived"]', "ARRB0901")  # the carrier is on the 运抵单
    shot(carrier, "roles-export-milestones")

    head = export_samples.departure_document([c], "DEPB0901")["DepartureHead"]
    sheet = write_xlsx(tmp_path / "departures.xlsx", "CEB509", [{
        "企业唯一编号": head["copNo"], "申报海关代码": head["customsCode"], "运输方式": head["trafMode"],
        "运输工具名称": head["trafName"], "航班航次号": head["voyageNo"], "提运单号": head["billNo"],
        "离境时间": head["leaveTime"], "物流运单编号": c.logistics_no}])
    carrier.goto(f"{console.url}/import")
    carrier.get_by_label("单证类型").select_option("CEB509")
    carrier.get_by_label("文件（.xlsx 或 .csv）").set_input_files(str(sheet))
    carrier.get_by_role("button", name="上传并预览").click()
    commit(carrier, "离境单")
    expect(carrier.locator("#items .result")).to_have_text(["accepted"], timeout=30_000)
    carrier.goto(f"{console.url}/clearances/{c.clearance_key}")
    wait_for_text(carrier, '[data-testid="milestone-departed"]', "DEPB0901")  # imported, found by the index
    shot(carrier, "roles-export-departure-imported")


def test_an_entry_form_is_labelled_and_walked_with_the_keyboard(browser: Browser, console: Console) -> None:
    page = log_in(browser, console.url, "warehouse-op")
    page.goto(f"{console.url}/declare/CEB605")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到主要内容")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    fields = page.locator("#entry input:not([type=hidden]), #entry select")
    count = fields.count()
    assert count > 5
    for n in range(count):
        described = fields.nth(n).get_attribute("aria-describedby") or ""
        name = fields.nth(n).evaluate("el => el.labels.length ? el.labels[0].textContent.trim() : ''")
        assert name, f"field {n} has no label"
        assert described.startswith("h-"), f"field {name} has no hint"
    fields.first.focus()
    seen = []
    for _ in range(count):
        seen.append(page.evaluate("document.activeElement.id"))
        page.keyboard.press("Tab")
    assert seen == [fields.nth(n).get_attribute("id") for n in range(count)]  # document order, nothing skipped
    expect(page.get_by_role("button", name="申报", exact=True)).to_be_focused()
    shot(page, "roles-keyboard-export-cancel")
