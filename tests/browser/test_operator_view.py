"""The operator view in a real browser: the platform operator sees the last hour's windowed figures as charts
(an image named by its title) with the same numbers in a table a keyboard opens; an enterprise user gets 403."""

from __future__ import annotations

import random

from cbec.contracts.commands import DeclareDocument
from cbec_testkit.samples import PAYMENT_COMPANY, PLATFORM, order_document, payment_document
from playwright.sync_api import Browser, expect

from browser.conftest import Console, shot
from browser.console_pages import declare, log_in, wait_for_text


def test_the_operator_sees_the_status_chart_and_its_table_and_an_enterprise_user_is_refused(
    browser: Browser, console: Console
) -> None:
    order = order_document(16, random.Random(16), lines=1)
    declare(console.sandbox, DeclareDocument("browser-operator-order", PLATFORM, "CEB311", order))
    declare(console.sandbox, DeclareDocument("browser-operator-pay", PAYMENT_COMPANY, "CEB411",
                                             payment_document(order)))

    operator = log_in(browser, console.url, "ops")
    operator.goto(f"{console.url}/operator")
    wait_for_text(operator, "#table-tenants tbody", f"({PAYMENT_COMPANY})")
    chart = operator.get_by_role("img", name="按状态的状态变更数")
    expect(chart).to_be_visible()
    expect(chart.locator("rect").first).to_be_visible()
    summary = operator.locator("summary").first
    summary.focus()
    operator.keyboard.press("Enter")  # the table alternative opens from the keyboard
    expect(operator.locator("#table-phases")).to_be_visible()
    expect(operator.locator("#table-phases tbody")).to_contain_text("sent")
    shot(operator, "operator-charts")

    payer = log_in(browser, console.url, "payment-op")
    refused = payer.goto(f"{console.url}/operator")
    assert refused is not None and refused.status == 403
    expect(payer.locator("svg.chart")).to_have_count(0)
