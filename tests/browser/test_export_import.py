"""An e-commerce enterprise imports seed 003's export-order template with one bad cell, fixes it in the
preview and commits the batch under a strategy preset; customs accepts the orders and the export
clearance page shows them with their milestones."""

from __future__ import annotations

from pathlib import Path

from cbec_testkit.samples import PLATFORM
from playwright.sync_api import Browser, expect

from browser.conftest import Console, shot
from browser.console_pages import commit, log_in, wait_for_text, write_xlsx

QTY_COLUMN = 3  # 订单号, 商品货号, 商品名称, 数量 …


def test_an_export_sheet_with_a_bad_cell_is_fixed_and_committed_under_a_strategy(
    browser: Browser, console: Console, tmp_path: Path
) -> None:
    rows = [
        {"订单号": "EXPB0000001", "商品货号": "SKU-T01", "商品名称": "陶瓷茶具", "数量": "2", "总额": "70.00",
         "单价": "35", "计量单位": "006"},
        {"订单号": "EXPB0000001", "商品货号": "SKU-E02", "商品名称": "蓝牙耳机", "数量": "1.000001", "总额": "18.00",
         "单价": "18", "计量单位": "007"},  # six decimals: seed 003 allows five
        {"订单号": "EXPB0000002", "商品货号": "SKU-C03", "商品名称": "纯棉T恤", "数量": "10", "总额": "60.00",
         "单价": "6", "计量单位": "007"},
    ]
    sheet = write_xlsx(tmp_path / "export-orders.xlsx", "CEB303", rows)

    shop = log_in(browser, console.url, "platform-op")
    shop.goto(f"{console.url}/import")
    shop.get_by_label("单证类型").select_option("CEB303")
    shop.get_by_label("策略（预设）").select_option("9610清单")
    shop.get_by_label("文件（.xlsx 或 .csv）").set_input_files(str(sheet))
    shop.get_by_role("button", name="上传并预览").click()
    expect(shop.get_by_test_id("strategy")).to_contain_text("9610清单")
    bad = shop.locator(f'[id="c-3-{QTY_COLUMN}"]')
    expect(bad).to_have_attribute("aria-invalid", "true")
    expect(shop.locator(f'[id="ce-3-{QTY_COLUMN}"]')).to_contain_text("最多 5 位小数")
    expect(shop.get_by_role("button", name="提交批次")).to_be_disabled()
    shot(shop, "export-import-preview-bad-cell")

    bad.fill("1")
    shop.get_by_role("button", name="重新校验").click()
    commit(shop, "出口订单")
    expect(shop.locator("#items .result")).to_have_text(["accepted", "accepted"], timeout=30_000)
    expect(shop.locator("#items .code").first).to_have_text("120", timeout=30_000)
    expect(shop.locator("#items .push").first).to_have_text("成功")
    shot(shop, "export-import-batch")

    shop.goto(f"{console.url}/clearances/E:{PLATFORM}:EXPB0000001")
    wait_for_text(shop, '[data-testid="status-CEB303"]', "120")
    expect(shop.get_by_test_id("milestone-arrived")).to_contain_text("本企业不是该单证的当事方")
    expect(shop.get_by_test_id("milestone-summarised")).to_be_visible()
    shot(shop, "export-clearance")
