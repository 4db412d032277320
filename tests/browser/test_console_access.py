"""Keyboard only, every field labelled, an English switch; a viewer cannot write; a sandbox tenant stays in the
sandbox until the platform operator promotes it, and nothing of it reaches production."""

from __future__ import annotations

import random
import re

from cbec.contracts.commands import DeclareDocument
from cbec_testkit.samples import PAYMENT_COMPANY, PLATFORM, SITE_OPERATOR, order_document, payment_document
from playwright.sync_api import Browser, Page, expect

from browser.conftest import Console, shot
from browser.console_pages import PASSWORD, declare, log_in, wait_for_text

UNLABELLED = """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name || el.id)"""


def unlabelled(page: Page) -> list[str]:
    found: list[str] = page.evaluate(UNLABELLED)
    return found


def test_logging_in_and_searching_by_keyboard_alone_with_every_field_labelled(browser: Browser,
                                                                             console: Console) -> None:
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{console.url}/login")
    assert unlabelled(page) == []
    expect(page.get_by_label("用户名")).to_be_focused()
    page.keyboard.type("payment-op")
    page.keyboard.press("Tab")
    expect(page.get_by_label("密码")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{console.url}/documents")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到主要内容")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    for _ in range(12):  # on through the filters to the search button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "number":
            break
    expect(page.get_by_label("单号")).to_be_focused()
    page.keyboard.type("NO-SUCH-NUMBER")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"number=NO-SUCH-NUMBER"))
    expect(page.get_by_text("没有符合条件的单证")).to_be_visible()
    for path in ("/documents", "/import", "/onboarding"):
        page.goto(f"{console.url}{path}")
        assert unlabelled(page) == [], path

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Onboarding")).to_be_visible()
    expect(page.get_by_label("Enterprise")).to_be_visible()
    shot(page, "onboarding-english")


def test_a_viewer_reads_but_cannot_import_or_correct(browser: Browser, console: Console) -> None:
    page = log_in(browser, console.url, "declarant-viewer")
    page.goto(f"{console.url}/import")
    expect(page.get_by_role("button", name="上传并预览")).to_have_count(0)
    token = page.locator('input[name="csrf_token"]').first.input_value()
    refused = page.request.post(f"{console.url}/import", multipart={"csrf_token": token, "docType": "CEB621"})
    assert refused.status == 403


def test_a_form_without_the_session_csrf_token_is_refused(browser: Browser, console: Console) -> None:
    page = log_in(browser, console.url, "platform-op")
    forged = page.request.post(f"{console.url}/enterprise", form={"enterprise": PLATFORM, "csrf_token": "forged"})
    assert forged.status == 403
    assert "表单已过期" in forged.text()


def test_a_sandbox_tenant_cannot_reach_production_until_the_operator_promotes_it(
    browser: Browser, console: Console
) -> None:
    order = order_document(3, random.Random(3), lines=1)
    declare(console.sandbox, DeclareDocument("browser-sandbox-order", PLATFORM, "CEB311", order))
    payer = log_in(browser, console.url, "payment-op")
    expect(payer.get_by_test_id("environment")).to_have_text("沙箱（测试环境）")
    declare(console.sandbox, DeclareDocument("browser-sandbox-pay", PAYMENT_COMPANY, "CEB411",
                                             payment_document(order)))
    payer.goto(f"{console.url}/documents?docType=CEB411&number={order['OrderHead']['payTransactionId']}")
    wait_for_text(payer, "table.list tbody", "120")
    token = payer.locator('input[name="csrf_token"]').first.input_value()
    self_promotion = payer.request.post(f"{console.url}/onboarding/{PAYMENT_COMPANY}/environment",
                                        form={"csrf_token": token, "environment": "production"})
    assert self_promotion.status == 403
    assert console.accounts.environment(PAYMENT_COMPANY) == "sandbox"
    assert console.production.link.copies == {}, "nothing of a sandbox tenant reaches the production link"
    assert console.production.stack.declaration("CEB411", (PAYMENT_COMPANY, order["OrderHead"]["payTransactionId"])) \
        is None

    operator = log_in(browser, console.url, "ops")
    operator.get_by_role("link", name="运营视图").click()
    expect(operator.locator("table.list tbody")).to_contain_text(f"({PAYMENT_COMPANY})")
    expect(operator.locator("table.list tbody tr").filter(has_text=PAYMENT_COMPANY)).to_contain_text("sent: ")
    shot(operator, "operator-view")
    operator.goto(f"{console.url}/onboarding")
    shot(operator, "onboarding-operator")
    operator.get_by_role("button", name=f"转为生产环境 ({SITE_OPERATOR})").click()
    expect(operator.get_by_role("button", name=f"转为生产环境 ({SITE_OPERATOR})")).to_have_count(0)
    site = log_in(browser, console.url, "site-admin")
    expect(site.get_by_test_id("environment")).to_have_text("生产环境")
    payer.reload()
    expect(payer.get_by_test_id("environment")).to_have_text("沙箱（测试环境）")
