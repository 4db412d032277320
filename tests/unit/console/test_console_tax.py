"""Tax bills per list and the 30-day settlement view: the period arithmetic (a pure function, around period
edges), and the pages, read as the user's own enterprise through the platform's API."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cbec_testkit.samples import parties
from cbec_testkit.tenants import demo_registry
from console_service.accounts import ConsoleRole, Environment, MemoryAccounts, Passwords, User
from console_service.app import ConsoleConfig, create_app
from console_service.platform import Reply
from console_service.tax import ANCHOR, PERIOD_DAYS, Bill, bills_of, china_today, period_of, settlement
from fastapi.testclient import TestClient

DECLARANT, PAYMENT = parties.DECLARANT, parties.PAYMENT_COMPANY
PASSWORD = "a-long-enough-password"


def bill(tax_no: str, released: date | None, status: str = "1", vat: str = "0.1") -> Bill:
    return Bill(tax_no, f"INV-{tax_no}", status, Decimal("0"), Decimal(vat), Decimal("0"), released)


def test_a_period_is_thirty_days_from_the_anchor_and_its_edges_fall_where_they_should() -> None:
    start, end = period_of(date(2026, 12, 7))
    assert (end - start).days == PERIOD_DAYS - 1 and (start - ANCHOR).days % PERIOD_DAYS == 0
    assert start <= date(2026, 12, 7) <= end
    assert period_of(start) == (start, end) and period_of(end) == (start, end)
    assert period_of(start - timedelta(days=1)) == (start - timedelta(days=PERIOD_DAYS), start - timedelta(days=1))
    assert period_of(end + timedelta(days=1))[0] == end + timedelta(days=1)
    assert period_of(ANCHOR) == (ANCHOR, ANCHOR + timedelta(days=PERIOD_DAYS - 1))


def test_bills_are_grouped_by_the_period_of_their_release_with_days_left_totals_and_overdue() -> None:
    start, end = period_of(date(2026, 12, 7))
    before = start - timedelta(days=1)  # the last day of the previous period
    bills = [bill("A", start), bill("B", end, vat="0.2"), bill("C", before), bill("V", end, status="3", vat="99"),
             bill("X", None)]
    on_last_day = settlement(bills, today=end)
    assert [(p.start, [b.tax_no for b in p.bills]) for p in on_last_day] == [
        (start, ["A", "B", "V"]), (period_of(before)[0], ["C"])]  # newest first; no release day: left out
    current, previous = on_last_day
    assert current.total() == Decimal("0.3") and current.total("value_added_tax") == Decimal("0.3")  # void: none
    assert (current.due, current.days_left, current.overdue) == (end + timedelta(days=1), 1, False)

    def previous_on(today: date) -> tuple[int, bool]:
        period = next(p for p in settlement(bills, today) if p.start < start)
        assert period.due == start
        return period.days_left, period.overdue

    assert previous_on(before) == (1, False)  # its last day
    assert previous_on(start) == (0, False)  # the due day: not overdue yet
    assert previous_on(start + timedelta(days=1)) == (-1, True)  # the day after, bill C still open


def test_a_period_whose_bills_are_summarised_or_void_is_settled_never_overdue() -> None:
    long_ago = date(2026, 1, 15)
    [period] = settlement([bill("S", long_ago, status="2"), bill("V", long_ago, status="3")], today=date(2026, 12, 7))
    assert period.settled and not period.overdue and period.days_left < 0
    assert period.total() == Decimal("0.1")


def test_a_lists_bills_carry_the_day_of_its_800_receipt_else_their_own() -> None:
    view = {"businessKey": [DECLARANT, "COP1"], "clearanceKey": "E1:O1",
            "receipts": [{"returnStatus": 120, "returnTime": "20261201090000000"},
                         {"returnStatus": 800, "returnTime": "20261203235959999"}],
            "taxBills": [{"taxNo": "T1", "invtNo": "I1", "status": "1", "issued": "20261205100000000",
                          "customsTax": "0", "valueAddedTax": "1.23456", "consumptionTax": "NaN"}]}
    [found] = bills_of(view)
    assert (found.released, found.total, found.link) == (date(2026, 12, 3), Decimal("1.23456"), "/tax/list/"
                                                         f"{DECLARANT}/COP1")
    [own] = bills_of({**view, "receipts": []})
    assert own.released == date(2026, 12, 5)


class TaxPlatform:
    """One released list of the declarant's with two tax bills: one released 40 days ago (overdue), one today."""

    environment = "sandbox"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        today = china_today()
        old, new = today - timedelta(days=40), today
        self.view = {
            "docType": "CEB621", "businessKey": [DECLARANT, "COP9"], "clearanceKey": "3105960001:ORDER9",
            "status": "customs released (800)", "statusCode": 800, "phase": "sent",
            "receipts": [{"receiptType": "CEB622", "returnStatus": 800, "returnTime": f"{old:%Y%m%d}100000000",
                          "returnInfo": "放行"}],
            "taxBills": [
                {"taxNo": "T-OLD", "invtNo": "51652026I000000009", "status": "1", "issued": f"{old:%Y%m%d}1200",
                 "statusTime": "", "customsTax": "0", "valueAddedTax": "12.34567", "consumptionTax": "0",
                 "entDutyNo": "", "assureCode": DECLARANT},
            ],
        }
        self.other = {**self.view, "businessKey": [DECLARANT, "COP10"], "receipts": [
            {"receiptType": "CEB622", "returnStatus": 800, "returnTime": f"{new:%Y%m%d}100000000"}],
            "taxBills": [{"taxNo": "T-NEW", "invtNo": "51652026I000000010", "status": "1", "customsTax": "0",
                          "valueAddedTax": "1.00000", "consumptionTax": "0"}]}

    async def declare(self, tenant: str, command: dict[str, Any]) -> Reply:
        raise AssertionError("the tax pages declare nothing")

    async def listing(self, tenant: str, doc_type: str, params: dict[str, str]) -> Reply:
        self.calls.append(("list", tenant, {"docType": doc_type, **params}))
        if tenant != DECLARANT:
            return Reply(200, {"items": [], "nextCursor": None})
        rows = [{"docType": "CEB621", "businessKey": v["businessKey"], "statusCode": 800} for v in (self.view,
                                                                                                   self.other)]
        return Reply(200, {"items": rows, "nextCursor": None})

    async def document(self, tenant: str, doc_type: str, key: list[str]) -> Reply:
        self.calls.append(("document", tenant, key))
        found = next((v for v in (self.view, self.other) if v["businessKey"] == key), None)
        return Reply(200, found) if tenant == DECLARANT and found else Reply(404, {"errors": []})

    def signed_xml(self, file_name: str) -> bytes | None:
        return None


@pytest.fixture
def console() -> tuple[TestClient, TaxPlatform]:
    passwords = Passwords()
    accounts = MemoryAccounts()
    accounts.add_user(User("agent", passwords.hash(PASSWORD), {DECLARANT: ConsoleRole.VIEWER}))
    accounts.add_user(User("pay", passwords.hash(PASSWORD), {PAYMENT: ConsoleRole.OPERATOR}))
    platform = TaxPlatform()
    config = ConsoleConfig("unit-test-secret", demo_registry(), accounts, {Environment.SANDBOX: platform},
                           passwords=passwords, https_only=False)
    return TestClient(create_app(config)), platform


def log_in(client: TestClient, user: str) -> None:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    answer = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": found.group(1)},
                         follow_redirects=False)
    assert answer.status_code == 303


def test_the_tax_page_of_a_list_shows_its_bills_as_the_users_enterprise_reads_them(console: Any) -> None:
    client, platform = console
    assert client.get("/tax/list/x/y", follow_redirects=False).status_code == 303  # a session first
    log_in(client, "agent")
    page = client.get(f"/tax/list/{DECLARANT}/COP9")
    assert page.status_code == 200
    assert "T-OLD" in page.text and "12.34567" in page.text and "已逾期" in page.text
    assert 'class="rejection overdue"' in page.text
    assert {tenant for _, tenant, _ in platform.calls} == {DECLARANT}
    client.cookies.set("lang", "en")
    english = client.get(f"/tax/list/{DECLARANT}/COP9")
    assert "Overdue" in english.text and "VAT" in english.text


def test_another_enterprise_finds_no_such_list_and_sees_none_of_its_bills(console: Any) -> None:
    client, platform = console
    log_in(client, "pay")
    assert client.get(f"/tax/list/{DECLARANT}/COP9").status_code == 404
    assert client.get("/tax/list/only-one-part").status_code == 404
    settlement_page = client.get("/tax")
    assert settlement_page.status_code == 200 and "T-OLD" not in settlement_page.text
    assert {tenant for _, tenant, _ in platform.calls} == {PAYMENT}


def test_the_settlement_view_groups_the_bills_by_period_with_totals_and_the_overdue_one_highlighted(
    console: Any,
) -> None:
    client, platform = console
    log_in(client, "agent")
    page = client.get("/tax")
    assert page.status_code == 200
    periods = page.text.split('data-testid="period"')[1:]
    assert len(periods) == 2
    current, overdue = periods  # newest first
    assert "T-NEW" in current and "1.00000" in current and 'data-testid="days-left"' in current
    assert "T-OLD" in overdue and 'data-testid="overdue"' in overdue and "12.34567" in overdue
    [(_, _, params)] = [c for c in platform.calls if c[0] == "list"]
    assert params["docType"] == "CEB621" and params["updatedFrom"].endswith("T00:00:00+08:00")


@pytest.mark.parametrize("path", [
    "/tax/list/" + "A" * 300 + "/COP9", f"/tax/list/{DECLARANT}/COP%00", f"/tax/list/{DECLARANT}/COP%1b9",
    f"/tax/list/{DECLARANT}/..%2F..%2Fetc", f"/tax/list/{DECLARANT}/COP9/extra", "/tax/list/%2F/%2F",
    f"/tax/list/{DECLARANT}/%E2%80%AE9POC", "/tax/list//", "/tax?lang=" + "x" * 5000,
])
def test_a_hostile_tax_address_is_a_4xx_or_the_page_never_a_500(console: Any, path: str) -> None:
    client, platform = console
    log_in(client, "agent")
    answer = client.get(path)
    assert answer.status_code in (200, 400, 404), answer.text[:300]
    assert "Traceback" not in answer.text
    assert {tenant for _, tenant, _ in platform.calls} <= {DECLARANT}


@pytest.mark.parametrize("garbage", [
    {"businessKey": 5}, {"businessKey": {"a": 1}}, {"taxBills": "T"}, {"taxBills": [None, 1, "x"]},
    {"receipts": "800"}, {"receipts": [1, None]}, {"taxBills": [{"customsTax": "1E+999999999", "status": []}]},
    {"clearanceKey": None}, {"taxBills": [{"issued": 20261201, "taxNo": ["T"]}]},
])
def test_a_list_view_of_the_wrong_shape_shows_what_it_can_never_a_500(console: Any, garbage: dict[str, Any]) -> None:
    client, platform = console
    platform.view = {**platform.view, **garbage}
    log_in(client, "agent")
    for path in (f"/tax/list/{DECLARANT}/COP9", "/tax"):
        answer = client.get(path)
        assert answer.status_code in (200, 404), (path, answer.text[:300])
