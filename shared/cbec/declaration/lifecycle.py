"""The declaration aggregate: its events and the state they fold into. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# Event type names (past tense), as published on cbec.<service>.events; the payload of each is a JSON object.
from cbec.contracts.events import EVENT_TYPES as EVENT_TYPES
from cbec.contracts.events import HELD as HELD
from cbec.contracts.events import RECEIPT_RECORDED as RECEIPT_RECORDED
from cbec.contracts.events import RECEIVED as RECEIVED
from cbec.contracts.events import REFUSED as REFUSED
from cbec.contracts.events import RELEASED as RELEASED
from cbec.contracts.events import SENT as SENT
from cbec.contracts.events import SIGNED as SIGNED
from cbec.contracts.events import SIGNING_FAILED as SIGNING_FAILED
from cbec.contracts.events import SUMMARY_RESULT_RECORDED as SUMMARY_RESULT_RECORDED
from cbec.contracts.events import TAX_BILL_RECORDED as TAX_BILL_RECORDED
from cbec.contracts.events import TAX_STATUS_RECORDED as TAX_STATUS_RECORDED
from cbec.contracts.events import WITHDRAWN as WITHDRAWN
from cbec.contracts.events import EventData, Links
from cbec.declaration import statuses


@dataclass(slots=True)
class Receipt:
    receipt_type: str
    status: int
    time: str  # yyyyMMddHHmmssSSS, China Standard Time
    info: str

    def identity(self) -> tuple[str, int, str]:
        return (self.receipt_type, self.status, self.time)

    @property
    def format_error(self) -> bool:
        """A CEB900: customs could not read the transmission (its status is a DXP code, not progress)."""
        return self.receipt_type == statuses.FORMAT_ERROR


@dataclass(frozen=True, slots=True)
class TaxBill:
    """Customs' electronic tax bill of a list (CEB816) with its latest status (CEB816 or CEB818, by returnTime).

    A status (CEB818) may come before its bill: the amounts are then empty until the bill is recorded."""

    tax_no: str
    invt_no: str
    status: str = ""  # 1 generated, 2 summarised, 3 void
    status_time: str = ""  # returnTime of the message that set ``status``
    issued: str = ""  # returnTime of the bill (CEB816); '' until it is recorded
    customs_tax: str = ""
    value_added_tax: str = ""
    consumption_tax: str = ""
    ent_duty_no: str = ""
    assure_code: str = ""

    def to_json(self) -> dict[str, str]:
        return {"taxNo": self.tax_no, "invtNo": self.invt_no, "status": self.status, "statusTime": self.status_time,
                "issued": self.issued, "customsTax": self.customs_tax, "valueAddedTax": self.value_added_tax,
                "consumptionTax": self.consumption_tax, "entDutyNo": self.ent_duty_no,
                "assureCode": self.assure_code}


def _tax_bill(bill: TaxBill | None, event_type: str, data: dict[str, Any]) -> TaxBill:
    """``bill`` (None: not seen yet) with a CEB816 or CEB818 applied; the later returnTime sets the status."""
    out = bill or TaxBill(str(data["taxNo"]), str(data["invtNo"]))
    time = str(data["returnTime"])
    if event_type == TAX_BILL_RECORDED:
        out = replace(out, issued=time, customs_tax=str(data["customsTax"]),
                      value_added_tax=str(data["valueAddedTax"]), consumption_tax=str(data["consumptionTax"]))
    if time >= out.status_time:
        out = replace(out, status=str(data["status"]), status_time=time)
    return replace(out, ent_duty_no=str(data.get("entDutyNo") or out.ent_duty_no),
                   assure_code=str(data.get("assureCode") or out.assure_code))


@dataclass(slots=True)
class Declaration:
    """The folded state of one document's stream."""

    doc_type: str
    version: int = 0
    # new | received | refused | held | released | signed | signing-failed | sent | withdrawn
    phase: str = "new"
    clearance_key: str = ""
    app_type: str = ""  # of the current document: 1 new, 2 change, 3 delete
    links: Links = field(default_factory=Links)  # carried on every event (businessKey, …)
    # sender/commandId → the command's errors: a repeat returns them (a commandId is unique per sender)
    commands: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    ever_released: bool = False  # customs has seen (or is about to see) a version of this document
    superseded: int = 0  # receipts before this index answer an earlier version
    sender: str = ""
    owner: str = ""  # the sender of the first document received: only it (or its delegate) may change it
    content_hash: str = ""
    document: dict[str, Any] | None = None
    waiting_for: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    release_request_id: str = ""
    releases: int = 0  # of the current version: a second one is a resend
    file_name: str = ""
    receipts: list[Receipt] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)  # customs' numbers for it (invtNo, sumNo …)
    results: list[str] = field(default_factory=list)  # ids of customs' results recorded (CEB792, CEB816, CEB818)
    tax_bills: dict[str, TaxBill] = field(default_factory=dict)  # an import list's tax bills by taxNo

    def copy(self) -> Declaration:
        """A copy to apply events to, leaving this one as it is. ``apply`` replaces what it changes
        or adds to the copied containers; event data is never mutated, so the copy shares it."""
        return replace(
            self,
            commands=dict(self.commands),
            waiting_for=list(self.waiting_for),
            errors=list(self.errors),
            receipts=list(self.receipts),
            numbers=dict(self.numbers),
            results=list(self.results),
            tax_bills=dict(self.tax_bills),
        )

    def record(self, event: EventData) -> None:
        """Apply a typed event as the store will hold it."""
        self.apply(event.TYPE, event.to_dict())

    def apply(self, event_type: str, data: dict[str, Any]) -> None:
        self.version += 1
        if "commandId" in data and event_type in (RECEIVED, REFUSED, WITHDRAWN):
            self.commands[command_ref(data.get("sender", ""), data["commandId"])] = list(data.get("errors", []))
        if event_type == RECEIVED:
            self.phase = "received"
            self.clearance_key = data["clearanceKey"]
            self.sender = data["sender"]
            self.owner = self.owner or self.sender
            self.content_hash = data["contentHash"]
            self.document = data["document"]
            self.app_type = data.get("appType", "1")
            self.links = Links.from_dict(data.get("links") or {})
            self.errors = []
            self.superseded = len(self.receipts)
            self.releases = 0
        elif event_type == REFUSED:
            # A refused command leaves a stored document alone, unless the saga refuses the document itself.
            if self.phase in ("new", "refused", "withdrawn") or data.get("refusesDocument"):
                self.phase = "refused"
                self.waiting_for = []
            self.errors = list(data["errors"])
        elif event_type == WITHDRAWN:
            self.phase = "withdrawn"
            self.waiting_for = []
        elif event_type == HELD:
            self.phase = "held"
            self.waiting_for = list(data["waitingFor"])
        elif event_type == RELEASED:
            self.phase = "released"
            self.waiting_for = []
            self.release_request_id = data["requestId"]
            self.ever_released = True
            self.releases += 1
        elif event_type == SIGNED:
            self.phase = "signed"
        elif event_type == SIGNING_FAILED:
            self.phase = "signing-failed"
            self.errors = [data["error"]]
        elif event_type == SENT:
            self.phase = "sent"
            self.file_name = data["fileName"]
        elif event_type == RECEIPT_RECORDED:
            self.receipts.append(
                Receipt(
                    data["receiptType"], int(data["returnStatus"]), data["returnTime"], data["returnInfo"]
                )
            )
            self.numbers = {**self.numbers, **(data.get("numbers") or {})}
        elif event_type == SUMMARY_RESULT_RECORDED:
            self.results = [*self.results, data["resultId"]]
        elif event_type in (TAX_BILL_RECORDED, TAX_STATUS_RECORDED):
            self.results = [*self.results, data["resultId"]]
            tax_no = str(data["taxNo"])
            self.tax_bills = {**self.tax_bills, tax_no: _tax_bill(self.tax_bills.get(tax_no), event_type, data)}

    @property
    def current_receipt(self) -> Receipt | None:
        """The receipt with the latest returnTime is current, whatever order they arrived in.

        Only receipts recorded since the current version was received count (a late receipt of an
        earlier version cannot be told apart by its key, so it counts for the current one).
        """
        return statuses.current(self.receipts[self.superseded :])

    def has_receipt(self, receipt: Receipt) -> bool:
        return any(r.identity() == receipt.identity() for r in self.receipts)

    @property
    def accepted_earlier(self) -> bool:
        """Customs answered a resend with its duplicate-key code: the original reached it (its receipt was lost)."""
        current = self.current_receipt
        return self.releases > 1 and current is not None and statuses.is_duplicate_key(current.status,
                                                                                       current.receipt_type)

    @property
    def status(self) -> str:
        """The document's status in the platform's one vocabulary (:mod:`cbec.declaration.statuses`)."""
        current = self.current_receipt
        if current is not None and self.accepted_earlier:
            return statuses.accepted_earlier(current.status)
        if current is not None:
            return statuses.document_status(self.phase, current.status, current.receipt_type)
        return statuses.document_status(self.phase)

    @property
    def awaiting_customs(self) -> bool:
        """Released to customs and no final answer yet (no receipt, or only e-port progress 1–3)."""
        if not self.ever_released or self.phase in ("withdrawn", "held", "received", "refused", "signing-failed"):
            return False
        current = self.current_receipt
        return current is None or (current.status in (1, 2, 3) and not current.format_error)

    @property
    def rejected(self) -> bool:
        current = self.current_receipt
        return current is not None and statuses.is_rejection(current.status, current.receipt_type) \
            and not self.accepted_earlier

    @property
    def status_code(self) -> int | None:
        current = self.current_receipt
        return current.status if current else None


def command_ref(sender: str, command_id: str) -> str:
    return f"{sender}/{command_id}"


def fold(doc_type: str, events: list[tuple[str, dict[str, Any]]]) -> Declaration:
    state = Declaration(doc_type=doc_type)
    for event_type, data in events:
        state.apply(event_type, data)
    return state
