"""Tax bills per import list and the 30-day settlement view (seed 004 Q12).

Customs issues an electronic tax bill (CEB816 电子税单) for each released import list; the inventory service
records it, and its status changes (CEB818), on the list (``taxBills`` of the list's document view). Seed 004
Q12: at a successful declaration customs takes the estimated tax from the enterprise's guarantee (保证金 or
保函); every thirty days the enterprise has customs draw up a payment notice (税单缴款书) for the bills since
the last one, pays the actual tax at the designated bank, and the estimate is returned to the guarantee.
A bill's status: 1 已生成 (generated, not yet in a notice), 2 已汇总 (summarised into a notice, ``entDutyNo``),
3 作废 (void: a cancelled or returned list owes no tax).

The settlement view groups an enterprise's bills by the 30-day period their list's release (the day of its
800 receipt, China time) falls into, and counts the days left until the period's notice is due (the day
after the period's last day). The seed does not say from which day the thirty days count; the console counts
consecutive periods from :data:`ANCHOR` for every enterprise (an enterprise's own cycle is agreed with its
customs office). Amounts are added as decimals, never as floats.

The pages read only the platform's public API, as the enterprise (its API key): the lists it is a party to,
each list's view. The settlement view reads the lists updated in the last :data:`LOOKBACK_DAYS` days, at most
:data:`MAX_LISTS` of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from console_service.platform import Platform
from console_service.web import Context, NotFound

CHINA = timezone(timedelta(hours=8))
PERIOD_DAYS = 30
ANCHOR = date(2019, 1, 1)  # the first day of the first period (the console's convention, see the docstring)
LOOKBACK_DAYS = 4 * PERIOD_DAYS
MAX_LISTS = 500
LIST = "CEB621"
RELEASED = 800
GENERATED, SUMMARISED, VOID = "1", "2", "3"
STATUS_NAMES = {GENERATED: "generated", SUMMARISED: "summarised", VOID: "void"}


def _day(stamp: str) -> date | None:
    """The day of a customs time (yyyyMMdd…, China time); None when it is not one."""
    try:
        return date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8])) if len(stamp) >= 8 else None
    except ValueError:
        return None


def _amount(text: object) -> Decimal:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        return Decimal(0)
    # A bill's amounts are N19,5: anything far outside (a broken view) counts as 0, never overflows a sum.
    return value if value.is_finite() and -10 <= value.adjusted() <= 20 else Decimal(0)


@dataclass(frozen=True)
class Bill:
    """One tax bill as the console shows it, with its list's release day."""

    tax_no: str
    invt_no: str
    status: str
    customs_tax: Decimal
    value_added_tax: Decimal
    consumption_tax: Decimal
    released: date | None  # the day of the list's 800 receipt (else the bill's own day)
    ent_duty_no: str = ""
    assure_code: str = ""
    list_key: tuple[str, ...] = ()
    clearance_key: str = ""

    @property
    def total(self) -> Decimal:
        return self.customs_tax + self.value_added_tax + self.consumption_tax

    @property
    def link(self) -> str:
        return "/tax/list/" + "/".join(quote(p, safe="") for p in self.list_key)


def _key(raw: object) -> tuple[str, ...]:
    """A business key as the view gives it (a list of texts); anything else names nothing."""
    return tuple(str(k) for k in raw) if isinstance(raw, list) else ()


def bills_of(view: dict[str, Any]) -> list[Bill]:
    """The tax bills of one list's document view (``taxBills``), each with the list's release day."""
    receipts = view.get("receipts") or []
    releases = sorted(str(r.get("returnTime", "")) for r in receipts
                      if isinstance(r, dict) and str(r.get("returnStatus")) == str(RELEASED))
    released = _day(releases[0]) if releases else None
    out = []
    for raw in view.get("taxBills") or []:
        if not isinstance(raw, dict):
            continue
        out.append(Bill(
            tax_no=str(raw.get("taxNo", "")), invt_no=str(raw.get("invtNo", "")), status=str(raw.get("status", "")),
            customs_tax=_amount(raw.get("customsTax")), value_added_tax=_amount(raw.get("valueAddedTax")),
            consumption_tax=_amount(raw.get("consumptionTax")),
            released=released or _day(str(raw.get("issued") or raw.get("statusTime") or "")),
            ent_duty_no=str(raw.get("entDutyNo", "")), assure_code=str(raw.get("assureCode", "")),
            list_key=_key(view.get("businessKey")),
            clearance_key=str(view.get("clearanceKey", ""))))
    return out


def period_of(day: date, anchor: date = ANCHOR, days: int = PERIOD_DAYS) -> tuple[date, date]:
    """The settlement period ``day`` falls into: (its first day, its last day), ``days`` days long."""
    start = anchor + timedelta(days=(day - anchor).days // days * days)
    return start, start + timedelta(days=days - 1)


@dataclass
class Period:
    """One settlement period's bills, totals and due day (the day after its last day)."""

    start: date
    end: date
    today: date
    bills: list[Bill] = field(default_factory=list)

    @property
    def due(self) -> date:
        return self.end + timedelta(days=1)

    @property
    def days_left(self) -> int:
        """Days until the notice is due (0 on the due day, negative once it passed)."""
        return (self.due - self.today).days

    @property
    def payable(self) -> list[Bill]:
        """The bills that count (a void bill owes nothing)."""
        return [b for b in self.bills if b.status != VOID]

    @property
    def open(self) -> list[Bill]:
        """The bills not yet summarised into a payment notice."""
        return [b for b in self.payable if b.status != SUMMARISED]

    @property
    def closed(self) -> bool:
        """The period has ended (its notice can be drawn up)."""
        return self.today > self.end

    @property
    def settled(self) -> bool:
        return not self.open

    @property
    def overdue(self) -> bool:
        """Past the due day with a bill still not in a payment notice."""
        return self.days_left < 0 and bool(self.open)

    def total(self, name: str = "total") -> Decimal:
        return sum((getattr(b, name) for b in self.payable), Decimal(0))


def settlement(bills: Iterable[Bill], today: date, anchor: date = ANCHOR, days: int = PERIOD_DAYS) -> list[Period]:
    """The bills grouped by the period their release falls into, newest period first (a bill without a
    release day is left out: it cannot be placed)."""
    periods: dict[date, Period] = {}
    for bill in bills:
        if bill.released is None:
            continue
        start, end = period_of(bill.released, anchor, days)
        periods.setdefault(start, Period(start, end, today)).bills.append(bill)
    for period in periods.values():
        period.bills.sort(key=lambda b: (b.released or period.start, b.tax_no))
    return [periods[s] for s in sorted(periods, reverse=True)]


def china_today() -> date:
    return datetime.now(CHINA).date()


async def enterprise_bills(platform: Platform, enterprise: str, today: date) -> tuple[list[Bill], bool]:
    """The tax bills of the enterprise's released lists updated in the last LOOKBACK_DAYS (and whether
    MAX_LISTS cut the reading short)."""
    since = (today - timedelta(days=LOOKBACK_DAYS)).isoformat() + "T00:00:00+08:00"
    params = {"limit": "100", "updatedFrom": since}
    bills: list[Bill] = []
    read = 0
    while read < MAX_LISTS:
        page = await platform.listing(enterprise, LIST, params)
        if not page.ok:
            break
        for row in page.body.get("items", []):
            read += 1
            if row.get("statusCode") not in (RELEASED, 899):
                continue
            detail = await platform.document(enterprise, LIST, list(_key(row.get("businessKey"))))
            if detail.ok:
                bills += bills_of(detail.body)
        cursor = page.body.get("nextCursor")
        if not cursor:
            return bills, False
        params = {**params, "cursor": str(cursor)}
    return bills, True


def register(api: FastAPI, render: Callable[..., HTMLResponse], ctx_of: Callable[[Request], Context],
             platform_of: Callable[[Context], Platform], today: Callable[[], date] = china_today) -> None:
    """The tax pages: ``/tax`` (the enterprise's settlement view) and ``/tax/list/<agentCode>/<copNo>``."""

    @api.get("/tax", response_class=HTMLResponse)
    async def settlement_page(request: Request) -> Response:
        ctx = ctx_of(request)
        day = today()
        bills, cut = await enterprise_bills(platform_of(ctx), ctx.enterprise, day)
        return render(ctx, "tax_settlement.html", periods=settlement(bills, day), today=day, cut=cut,
                      period_days=PERIOD_DAYS, lookback=LOOKBACK_DAYS, statuses=STATUS_NAMES)

    @api.get("/tax/list/{key:path}", response_class=HTMLResponse)
    async def list_page(request: Request, key: str) -> Response:
        ctx = ctx_of(request)
        parts = key.split("/")
        if len(parts) != 2 or not all(parts) or len(key) > 200:
            raise NotFound()
        reply = await platform_of(ctx).document(ctx.enterprise, LIST, parts)
        if not reply.ok:
            raise NotFound()
        day = today()
        bills = bills_of(reply.body)
        periods = {b.tax_no: period for period in settlement(bills, day) for b in period.bills}
        return render(ctx, "tax.html", view=reply.body, bills=bills, periods=periods, key=parts, today=day,
                      statuses=STATUS_NAMES)
