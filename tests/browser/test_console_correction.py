"""A rejected order found by its number, opened, corrected with validation as it is typed, resubmitted as a
change, and accepted."""

from __future__ import annotations

import random

from cbec.contracts.commands import DeclareDocument
from cbec_testkit.samples import PLATFORM, order_document
from playwright.sync_api import Browser, expect

from browser.conftest import REJECTED_ORDER, Console, shot
from browser.console_pages import declare, log_in, wait_for_text


def test_a_rejection_is_corrected_as_typed_and_resubmitted(browser: Browser, console: Console) -> None:
    order = order_document(1, random.Random(7), lines=1)
    order["OrderHead"]["orderNo"] = REJECTED_ORDER  # the simulator rejects its first arrival
    declare(console.sandbox, DeclareDocument("browser-rejected-1", PLATFORM, "CEB311", order))

    page = log_in(browser, console.url, "platform-op")
    page.get_by_label("单号").fill(REJECTED_ORDER)
    page.get_by_role("button", name="查询").click()
    wait_for_text(page, "table.list tbody", "100")
    page.get_by_role("link", name=f"{PLATFORM}:{REJECTED_ORDER}").click()
    expect(page.locator("tr.rejection")).not_to_have_count(0)
    shot(page, "clearance-rejected")

    page.get_by_role("link", name="更正并重新申报").click()
    qty = page.get_by_label("qty")
    good = qty.input_value()
    qty.fill("many")
    expect(page.locator("#validity")).to_have_text("仍有错误")
    expect(qty).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[id="e-OrderList.0.qty"]')).not_to_be_empty()
    shot(page, "correction-invalid")
    qty.fill(good)
    page.get_by_label("consigneeAddress").fill("上海市浦东新区更正路1号")
    expect(page.locator("#validity")).to_have_text("校验通过")
    expect(qty).not_to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="作为变更重新申报").click()

    expect(page.get_by_role("status")).to_have_text("已重新申报")
    wait_for_text(page, '[data-testid="status-CEB311"]', "120")
