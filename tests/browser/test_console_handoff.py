"""The bonded 运单准备 hand-off: the warehouse posts a packed parcel for the courier, the courier declares the
waybill from it in one step, customs accepts it."""

from __future__ import annotations

import random

from cbec.contracts.commands import DeclareDocument
from cbec_testkit.samples import LOGISTICS_COMPANY, PAYMENT_COMPANY, PLATFORM, order_document, payment_document
from playwright.sync_api import Browser, expect

from browser.conftest import Console, shot
from browser.console_pages import declare, log_in, wait_for_text


def test_a_warehouse_parcel_becomes_the_couriers_waybill_in_one_step(browser: Browser, console: Console) -> None:
    order = order_document(4, random.Random(4), lines=1)
    head = order["OrderHead"]
    declare(console.sandbox, DeclareDocument("browser-handoff-order", PLATFORM, "CEB311", order))
    declare(console.sandbox, DeclareDocument("browser-handoff-pay", PAYMENT_COMPANY, "CEB411",
                                             payment_document(order)))  # the saga holds a waybill until then

    warehouse = log_in(browser, console.url, "warehouse-op")
    warehouse.get_by_role("link", name="运单准备").click()
    warehouse.get_by_label("快递企业").select_option(LOGISTICS_COMPANY)
    parcel = {"orderNo": head["orderNo"], "ebpCode": PLATFORM, "logisticsNo": "LNHANDOFF0001", "weight": "1.5",
              "packNo": "1", "freight": head["freight"], "consignee": head["consignee"],
              "consigneeTelephone": head["consigneeTelephone"], "consigneeAddress": head["consigneeAddress"]}
    for name, value in parcel.items():
        warehouse.get_by_label(name, exact=True).fill(value)
    warehouse.get_by_role("button", name="发送给快递企业").click()
    expect(warehouse.locator("table.list tbody")).to_contain_text("等待快递企业申报")

    courier = log_in(browser, console.url, "logistics-op")
    courier.get_by_role("link", name="运单准备").click()
    courier.get_by_role("button", name="一键申报运单 LNHANDOFF0001").click()
    expect(courier.locator("table.list tbody")).to_contain_text("accepted")
    shot(courier, "handoff-declared")
    courier.goto(f"{console.url}/documents?docType=CEB511&number=LNHANDOFF0001")
    wait_for_text(courier, "table.list tbody", "120")
