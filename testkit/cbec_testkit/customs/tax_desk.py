"""The simulator's tax desk for import lists: the electronic tax bill (CEB816 电子税单) customs issues for a
released list, and its status (CEB818 电子税单状态) when the bills are summarised into a payment notice.

Customs takes the estimated tax from the enterprise's guarantee at release and, every thirty days, draws up a
payment notice (税单缴款书) for the bills since the last one (seed 004 Q12). The simulator issues the bill
``tax_delay`` seconds after the 800 (the list's release) and the status only when asked (:meth:`settle`, a
test hook standing in for the enterprise's visit to customs at the end of a period).

The amounts are the simulator's approximation of the cross-border comprehensive tax (跨境综合税), not
customs' computation: the dutiable price of a line is its totalPrice plus its share of the list's freight and
insurance; customs duty is 0 (inside the single and annual limits); consumption tax is 0 (no rate table
here); VAT is 13 % of the dutiable price, of which 70 % is levied. Each amount has 5 decimals (N19,5).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

VAT_RATE = Decimal("0.13")
LEVIED = Decimal("0.7")  # the comprehensive tax levies 70 % of the VAT and consumption tax due
CUSTOMS_DUTY_RATE = Decimal("0")
CONSUMPTION_RATE = Decimal("0")
_PLACES = Decimal("0.00001")
GENERATED, SUMMARISED, VOID = "1", "2", "3"


def _amount(value: Decimal) -> str:
    return str(value.quantize(_PLACES, rounding=ROUND_HALF_UP))


def _decimal(text: object) -> Decimal:
    try:
        return Decimal(str(text or "0"))
    except InvalidOperation:
        return Decimal(0)


@dataclass(frozen=True)
class TaxBill:
    """One list's bill as customs keeps it: the TaxHeadRd and TaxListRd it issued, and its status."""

    head: dict[str, str]
    lines: list[dict[str, str]] = field(default_factory=list)

    @property
    def invt_no(self) -> str:
        return self.head["invtNo"]

    @property
    def status(self) -> str:
        return self.head["status"]


def tax_bill(doc: dict[str, Any], invt_no: str, serial: int) -> TaxBill:
    """The bill of a released list (InventoryHead + InventoryList): one TaxListRd per line, totals in the head."""
    head = doc.get("InventoryHead") or {}
    items = doc.get("InventoryList") or []
    items = [i for i in (items if isinstance(items, list) else [items]) if isinstance(i, dict)][:99]
    goods = sum((_decimal(i.get("totalPrice")) for i in items), Decimal(0))
    extra = _decimal(head.get("freight")) + _decimal(head.get("insuredFee"))
    lines: list[dict[str, str]] = []
    totals = [Decimal(0), Decimal(0), Decimal(0)]
    for i, item in enumerate(items, start=1):
        price = _decimal(item.get("totalPrice"))
        dutiable = price + (extra * price / goods if goods else Decimal(0))
        duty = dutiable * CUSTOMS_DUTY_RATE
        consumption = (dutiable + duty) / (1 - CONSUMPTION_RATE) * CONSUMPTION_RATE * LEVIED
        vat = (dutiable + duty + consumption / LEVIED) * VAT_RATE * LEVIED
        amounts = [Decimal(_amount(duty)), Decimal(_amount(vat)), Decimal(_amount(consumption))]
        totals = [t + a for t, a in zip(totals, amounts, strict=True)]
        lines.append({"gnum": str(item.get("gnum") or i), "gcode": str(item.get("gcode", ""))[:10],
                      "taxPrice": _amount(dutiable), "customsTax": _amount(amounts[0]),
                      "valueAddedTax": _amount(amounts[1]), "consumptionTax": _amount(amounts[2])})
    bill_head = {
        "guid": str(uuid.uuid4()).upper(), "returnTime": "", "invtNo": invt_no,
        "taxNo": f"{invt_no[:4]}{invt_no[4:8]}T{serial:010d}",
        "customsTax": _amount(totals[0]), "valueAddedTax": _amount(totals[1]), "consumptionTax": _amount(totals[2]),
        "status": GENERATED, "assureCode": str(head.get("assureCode") or head.get("agentCode") or ""),
        "ebcCode": str(head.get("ebcCode", "")), "logisticsCode": str(head.get("logisticsCode", "")),
        "agentCode": str(head.get("agentCode", "")), "customsCode": str(head.get("customsCode", "")),
    }
    return TaxBill({k: v for k, v in bill_head.items() if v or k == "returnTime"}, lines)


def bill_node(bill: TaxBill) -> dict[str, Any]:
    """The ``Tax`` node of a CEB816."""
    return {"TaxHeadRd": dict(bill.head), "TaxListRd": [dict(line) for line in bill.lines]}


def status_node(bill: TaxBill) -> dict[str, Any]:
    """The ``Tax`` node of a CEB818 reporting the bill's status."""
    head = {"guid": str(uuid.uuid4()).upper(), "returnTime": "", "invtNo": bill.invt_no,
            "taxNo": bill.head["taxNo"], "status": bill.status}
    for name in ("entDutyNo", "assureCode"):
        if bill.head.get(name):
            head[name] = bill.head[name]
    return {"TaxHeadStatus": head}


def with_status(bill: TaxBill, status: str, ent_duty_no: str = "") -> TaxBill:
    head = {**bill.head, "status": status}
    if ent_duty_no:
        head["entDutyNo"] = ent_duty_no
    return replace(bill, head=head)
