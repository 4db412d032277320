"""Over-quota interception at list (CEB621) intake, in the inventory service.

A list is refused with -621005 when its amount exceeds the single-purchase limit, and with -621018
when the buyer's released and pending lists of the calendar year (China time, from the list's
appTime) plus this one would exceed the annual limit. The amount is the list's Σ totalPrice +
freight + insuredFee, as the CEB core's limit rule computes it.

Pending lists reserve their amount at intake (``QuotaReserved``) in the buyer's ledger stream, in
the same transaction as the list's own events; two lists of one buyer racing each other conflict
on the ledger's version, and the loser is re-checked against the winner's reservation. Receipt 800
turns the reservation into use; a rejection, a withdrawal or a refusal gives it back, and so does
an approved cancel (CEB623 answered with 399). Partial returns (CEB625) are not credited back.
Ledger entries are keyed by the list's clearance (``ebpCode:orderNo``), which the cancel also names.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from cbec.declaration import lifecycle as lc
from cbec.declaration import statuses
from cbec.declaration.doctypes import CANCEL, INVENTORY, DocType
from cbec.declaration.guards import Verdict
from cbec.declaration.lifecycle import Declaration
from cbec.declaration.ports import DeclarationStore, StreamAppend
from cbec.errors import CebError
from cbec.quota import ledger as lg
from cbec.quota.settings import QuotaSettings

SINGLE_CODE = "-621005"
ANNUAL_CODE = "-621018"
RELEASE_STATUS = 800
CANCEL_APPROVED = 399


def list_amount(document: dict[str, Any]) -> Decimal | None:
    """Σ line totalPrice + freight + insuredFee, or None when a figure is not a number."""
    head = document.get("InventoryHead", {})
    lines = document.get("InventoryList", [])
    try:
        total = sum((Decimal(str(line["totalPrice"])) for line in lines), Decimal(0))
        return total + Decimal(str(head.get("freight") or 0)) + Decimal(str(head.get("insuredFee") or 0))
    except (InvalidOperation, KeyError, TypeError):
        return None


class QuotaGuard:
    """Keeps each buyer's yearly ledger in the inventory service's own store."""

    def __init__(self, store: DeclarationStore, settings: QuotaSettings | None = None) -> None:
        settings = settings or QuotaSettings()
        self.store = store
        self.annual_limit = settings.quota_annual_limit
        self.single_limit = settings.quota_single_limit
        self._key = settings.hmac_key()

    def used(self, buyer_id_number: str, year: int) -> Decimal:
        """Released plus pending amounts of the buyer's lists in ``year``."""
        return self._ledger(self._stream(buyer_id_number, year))[1].used()

    def on_intake(
        self, doc_type: DocType, stream_id: uuid.UUID, state: Declaration, document: dict[str, Any]
    ) -> Verdict:
        if doc_type.code != INVENTORY.code:
            return Verdict()
        head = document["InventoryHead"]
        amount = list_amount(document)
        buyer = str(head.get("buyerIdNumber", ""))
        if amount is None or not buyer:
            return Verdict()
        if amount > self.single_limit:
            return Verdict([CebError(SINGLE_CODE, "InventoryHead", "§8.B single-transaction limit",
                                     f"this list's amount {amount} exceeds the single-purchase limit"
                                     f" {self.single_limit}")])
        ledger_id = self._stream(buyer, _year(head))
        version, ledger = self._ledger(ledger_id)
        list_key = _list_key(head)
        used = ledger.used(excluding=list_key)
        if used + amount > self.annual_limit:
            return Verdict([CebError(ANNUAL_CODE, "InventoryHead", "§8.B annual limit",
                                     f"the buyer's released and pending lists this year come to {used};"
                                     f" this list ({amount}) would exceed the annual limit {self.annual_limit}")])
        reserve = (lg.RESERVED, {"listKey": list_key, "amount": str(amount)})
        return Verdict(appends=[StreamAppend(ledger_id, version, [reserve])])

    def on_events(
        self,
        doc_type: DocType,
        stream_id: uuid.UUID,
        state: Declaration,
        events: list[tuple[str, dict[str, Any]]],
    ) -> list[StreamAppend]:
        if doc_type.code == CANCEL.code and state.document is not None:
            return self._cancelled(state.document, events)
        if doc_type.code != INVENTORY.code or state.document is None:
            return []
        head = state.document["InventoryHead"]
        buyer = str(head.get("buyerIdNumber", ""))
        if not buyer:
            return []
        ledger_id = self._stream(buyer, _year(head))
        version, ledger = self._ledger(ledger_id)
        list_key = _list_key(head)
        out: list[tuple[str, dict[str, Any]]] = []
        for event_type, data in events:
            entry = {"listKey": list_key}
            if event_type == lc.RECEIPT_RECORDED and int(data["returnStatus"]) == RELEASE_STATUS:
                if list_key in ledger.reserved:
                    out.append((lg.CONSUMED, entry))
            elif (
                event_type == lc.RECEIPT_RECORDED
                and statuses.is_rejection(int(data["returnStatus"]), str(data.get("receiptType", "")))
                and not statuses.is_duplicate_key(int(data["returnStatus"]), str(data.get("receiptType", "")))
                or event_type == lc.WITHDRAWN
                or event_type == lc.REFUSED
                and data.get("refusesDocument")
            ):
                if ledger.holds(list_key):
                    out.append((lg.RELEASED, entry))
        return [StreamAppend(ledger_id, version, out)] if out else []

    def _cancelled(
        self, cancel: dict[str, Any], events: list[tuple[str, dict[str, Any]]]
    ) -> list[StreamAppend]:
        """An approved cancel gives the list's amount back (the list is of this year or the last)."""
        approved = any(
            t == lc.RECEIPT_RECORDED and int(d["returnStatus"]) == CANCEL_APPROVED for t, d in events
        )
        buyer = str(cancel.get("buyerIdNumber", ""))
        if not approved or not buyer:
            return []
        list_key = _list_key(cancel)
        year = _year(cancel)
        for y in (year, year - 1):
            ledger_id = self._stream(buyer, y)
            version, ledger = self._ledger(ledger_id)
            if ledger.holds(list_key):
                return [StreamAppend(ledger_id, version, [(lg.RELEASED, {"listKey": list_key})])]
        return []

    def _stream(self, buyer_id_number: str, year: int) -> uuid.UUID:
        return lg.stream_id(lg.buyer_ref(self._key, buyer_id_number), year)

    def _ledger(self, ledger_id: uuid.UUID) -> tuple[int, lg.Ledger]:
        ledger = lg.fold(self.store.read(ledger_id))
        return ledger.version, ledger


def _list_key(head: dict[str, Any]) -> str:
    """The list's clearance: one list per order, named alike by the list and by its cancel."""
    return f"{head.get('ebpCode', '')}:{head.get('orderNo', '')}"


def _year(head: dict[str, Any]) -> int:
    """The calendar year (China time) of the list's appTime (yyyyMMddHHmmss, already in CST)."""
    app_time = str(head.get("appTime", ""))
    return int(app_time[:4]) if app_time[:4].isdigit() else 0
