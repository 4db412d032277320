"""Waybills (CEB511), waybill statuses (CEB513) and site entry lists (CEB711), and where each belongs.

- A waybill does not name its platform: its command carries ``ebpCode``, and its clearance is
  ``ebpCode:orderNo``. It is held at intake until the saga has seen its order and payment declared.
- A waybill status takes its waybill's clearance (the waybill is declared here first) and goes at once.
- An entry list spans the clearances of the waybills it lists (``clearanceKeys`` with their
  ``logisticsNos``); it is held until the saga has seen their lists declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.contracts.commands import DeclareDocument
from cbec.contracts.events import Links
from cbec.declaration.doctypes import ENTRY, WAYBILL, WAYBILL_STATUS
from cbec.declaration.lifecycle import Declaration
from cbec.declaration.policy import DocumentPolicy, DocumentReader, Identity, platform_clearance
from cbec.declaration.tenancy import same_party
from cbec.errors import CebError
from cbec.tenants import Role

SERVICE = "logistics"


def waybill(documents: DocumentReader, logistics_code: str, logistics_no: str) -> Declaration | None:
    """A waybill declared here (the logistics service owns waybills, so it reads their streams)."""
    if not logistics_code or not logistics_no:
        return None
    state = documents.load(WAYBILL, WAYBILL.stream_id((logistics_code, logistics_no)))
    return state if state.version and state.document is not None else None


@dataclass(frozen=True)
class WaybillPolicy(DocumentPolicy):
    def distinct_parties(self, head: dict[str, Any], ebp_code: str) -> list[CebError]:
        """The waybill's logisticsCode is not the platform of the clearance (``ebpCode`` of the envelope)."""
        value = str(head.get("logisticsCode", ""))
        if not ebp_code or value != ebp_code:
            return []
        return same_party(self.where, "logisticsCode", value,
                          f"logisticsCode {value} is the platform of the clearance; the carrier must be another"
                          " enterprise")

    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        errors = [] if command.ebp_code else [
            CebError("CBEC-0002", "ebpCode", "contract",
                     "a waybill command names the platform of its clearance (ebpCode)")
        ]
        order_no = self.head(command.document).get("orderNo", "")
        return Identity(f"{command.ebp_code}:{order_no}", Links(business_key=list(key)), errors)

    def clearance_hint(self, command: DeclareDocument) -> str:
        return platform_clearance(command.ebp_code, self.head(command.document).get("orderNo", ""))


@dataclass(frozen=True)
class WaybillStatusPolicy(DocumentPolicy):
    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        head = self.head(command.document)
        links = Links(business_key=list(key))
        bill = waybill(documents, str(head.get("logisticsCode", "")), str(head.get("logisticsNo", "")))
        if bill is not None and bill.clearance_key:
            return Identity(bill.clearance_key, links)
        if command.ebp_code and bill is not None and bill.document is not None:
            order_no = WAYBILL.head_of(bill.document).get("orderNo", "")
            return Identity(f"{command.ebp_code}:{order_no}", links)
        error = CebError("CBEC-2010", "LogisticsStatus.logisticsNo", "waybill status",
                         f"no waybill {head.get('logisticsNo', '')} was declared here")
        return Identity(f"{command.ebp_code}:", links, [error])


@dataclass(frozen=True)
class EntryPolicy(DocumentPolicy):
    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        head = self.head(command.document)
        lines = command.document.get(ENTRY.lines or "", [])
        numbers = [str(x.get("logisticsNo", "")) for x in lines if isinstance(x, dict)]
        keys: list[str] = []
        for number in numbers:
            bill = waybill(documents, str(head.get("logisticsCode", "")), number)
            if bill is not None and bill.clearance_key and bill.clearance_key not in keys:
                keys.append(bill.clearance_key)
        links = Links(business_key=list(key), clearance_keys=keys, logistics_nos=numbers)
        return Identity(":".join(key), links)


_CARRIER = frozenset({Role.LOGISTICS})

WAYBILL_POLICY = WaybillPolicy(
    WAYBILL,
    sender_roles=_CARRIER,
    sender_code_fields=("logisticsCode",),
    in_flight_code="-504012",
    locked_code="-504016",
    deletable=True,
    held_at_intake=True,
)
WAYBILL_STATUS_POLICY = WaybillStatusPolicy(
    WAYBILL_STATUS,
    sender_roles=_CARRIER,
    sender_code_fields=("logisticsCode",),
    in_flight_code="-505012",
)
ENTRY_POLICY = EntryPolicy(
    ENTRY,
    sender_roles=frozenset({Role.SITE_OPERATOR}),
    sender_code_fields=("operatorCode",),
    held_at_intake=True,
)

POLICIES: tuple[DocumentPolicy, ...] = (WAYBILL_POLICY, WAYBILL_STATUS_POLICY, ENTRY_POLICY)
DOC_TYPES = [p.doc_type for p in POLICIES]
