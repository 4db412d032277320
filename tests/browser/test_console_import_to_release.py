"""A platform imports two orders from an .xlsx with one bad row, fixes the row in the preview and commits the
batch; the payment company and the logistics company import their documents; the clearance is released and
customs' tax bill for its list shows on the list's tax page and in the 30-day settlement view."""

from __future__ import annotations

import random
from pathlib import Path

from cbec.contracts.commands import DeclareDocument
from cbec_testkit.samples import (
    DECLARANT,
    PLATFORM,
    inventory_document,
    order_document,
    payment_document,
    waybill_document,
)
from playwright.sync_api import Browser, expect

from browser.conftest import Console, shot
from browser.console_pages import (
    commit,
    declare,
    head_rows,
    imported_order,
    log_in,
    order_rows,
    upload,
    wait_for_text,
    write_csv,
    write_xlsx,
)

QTY_COLUMN = 4  # 订单号, 商品货号, 商品名称, 规格型号, 数量 …


def test_an_xlsx_with_a_bad_row_is_fixed_in_the_preview_and_its_clearance_is_released(
    browser: Browser, console: Console, tmp_path: Path
) -> None:
    rng = random.Random(16)
    orders = [imported_order(order_document(n, rng, lines=1)) for n in (9001, 9002)]
    rows = [row for order in orders for row in order_rows(order)]
    good_qty = rows[1]["数量"]
    rows[1]["数量"] = good_qty + ".1234567"  # seven decimals: the XSD allows five
    sheet = write_xlsx(tmp_path / "orders.xlsx", "CEB311", rows)

    platform = log_in(browser, console.url, "platform-op")
    upload(platform, console.url, "CEB311", sheet)
    bad_cell = platform.locator(f'[id="c-3-{QTY_COLUMN}"]')
    expect(bad_cell).to_have_attribute("aria-invalid", "true")
    expect(platform.locator(f'[id="ce-3-{QTY_COLUMN}"]')).to_contain_text("最多 5 位小数")
    expect(platform.get_by_role("button", name="提交批次")).to_be_disabled()
    shot(platform, "import-preview-with-bad-row")

    bad_cell.fill(good_qty)
    platform.get_by_role("button", name="重新校验").click()
    expect(platform.locator(f'[id="c-3-{QTY_COLUMN}"]')).not_to_have_attribute("aria-invalid", "true")
    commit(platform, "首批订单")
    expect(platform.locator("#items .result")).to_have_text(["accepted", "accepted"], timeout=30_000)
    expect(platform.locator("#items .code").first).to_have_text("120", timeout=30_000)
    expect(platform.locator("#items .push").first).to_have_text("成功")
    shot(platform, "import-batch-progress")

    payer = log_in(browser, console.url, "payment-op")
    upload(payer, console.url, "CEB411",
           write_csv(tmp_path / "payments.csv", "CEB411", head_rows("CEB411", [payment_document(o) for o in orders])))
    commit(payer, "支付单")
    expect(payer.locator("#items .result")).to_have_text(["accepted", "accepted"], timeout=30_000)

    carrier = log_in(browser, console.url, "logistics-op")
    waybills = [waybill_document(o) for o in orders]
    upload(carrier, console.url, "CEB511",
           write_xlsx(tmp_path / "waybills.xlsx", "CEB511", head_rows("CEB511", waybills, PLATFORM)))
    commit(carrier, "运单")
    expect(carrier.locator("#items .result")).to_have_text(["accepted", "accepted"], timeout=30_000)
    carrier.goto(f"{console.url}/documents?docType=CEB511&number=LNDEMO0000900")  # this batch's two
    expect(carrier.locator("table.list tbody tr")).to_have_count(2)

    for n, order in enumerate(orders):
        declare(console.sandbox, DeclareDocument(f"browser-list-{n}", DECLARANT, "CEB621",
                                                 inventory_document(order)))

    clearance = f"{PLATFORM}:{orders[0]['OrderHead']['orderNo']}"
    platform.goto(f"{console.url}/clearances/{clearance}")
    wait_for_text(platform, '[data-testid="status-CEB621"]', "800")
    expect(platform.locator('[data-testid="status-CEB311"]')).to_contain_text("120")
    platform.locator("details summary").first.click()
    expect(platform.locator("pre.xml").first).to_contain_text("ds:SignatureValue")
    expect(platform.locator("pre.xml").first).to_contain_text(orders[0]["OrderHead"]["orderNo"])
    shot(platform, "clearance-released")

    # Customs' electronic tax bill (CEB816) follows the release: the list's tax page, then the 30-day view.
    platform.locator('[data-testid="tax-link"]').first.click()
    wait_for_text(platform, '[data-testid="tax-bills"]', "已生成")
    expect(platform.locator('[data-testid="tax-bill"]')).to_have_count(1)
    shot(platform, "tax-bills-of-a-list")
    platform.get_by_role("link", name="税款汇总（30 天）").click()
    expect(platform.locator('[data-testid="period"]').first).to_contain_text("已生成")
    expect(platform.locator('[data-testid="days-left"]').first).to_be_visible()
