"""Waybills (CEB511), waybill statuses (CEB513) and site entry lists (CEB711), and where each belongs.

- A waybill does not name its platform: its command carries ``ebpCode``, and its clearance is
  ``ebpCode:orderNo``. It is held at intake until the saga has seen its order and payment declared.
- A waybill status takes its waybill's clearance (the waybill is declared here first) and goes at once.
- An entry list spans the clearances of the waybills it lists (``clearanceKeys`` with their
  ``logisticsNos``); it is held until the saga has seen their lists declared.

Export:
- An export waybill (CEB505) names no order: its command carries ``orderNo`` (and ``ebcCode`` when the
  Logistics node leaves its own out), and its clearance is ``E:<ebcCode>:<orderNo>``. It is held until
  the saga has seen its order declared. Codes: customs' waybill range -501001…-505000, which holds the
  import waybill's -504012/-504016.
- An arrival (CEB507 运抵单, from the supervision site's operator), a departure (CEB509 离境单, from the
  carrier) and a master bill (CEB607 清单总分单, from the declaring agent) each span the clearances of the
  export waybills they list (by the head's logisticsCode and each line's logisticsNo), like an entry list,
  and are held for the saga. Customs' ranges for them (arrival -801001…-805000, departure -505001…-509000,
  master bill -901001…-905000) name no code for a second version in flight, so cbec's own CBEC-2001 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.contracts.commands import DeclareDocument
from cbec.contracts.events import Links
from cbec.declaration.doctypes import (
    ARRIVAL,
    DEPARTURE,
    ENTRY,
    EXPORT_WAYBILL,
    MASTER_BILL,
    WAYBILL,
    WAYBILL_STATUS,
    DocType,
)
from cbec.declaration.lifecycle import Declaration
from cbec.declaration.policy import (
    DocumentPolicy,
    DocumentReader,
    Identity,
    export_clearance,
    platform_clearance,
)
from cbec.declaration.tenancy import same_party
from cbec.errors import CebError
from cbec.tenants import Role

SERVICE = "logistics"


def waybill(
    documents: DocumentReader, logistics_code: str, logistics_no: str, doc_type: DocType = WAYBILL
) -> Declaration | None:
    """A waybill declared here (the logistics service owns waybills, so it reads their streams)."""
    if not logistics_code or not logistics_no:
        return None
    state = documents.load(doc_type, doc_type.stream_id((logistics_code, logistics_no)))
    return state if state.version and state.document is not None else None


def listed_waybills(
    documents: DocumentReader, waybill_type: DocType, logistics_code: str, lines: object
) -> tuple[list[str], list[str]]:
    """``(clearance keys, logisticsNos)`` of the waybills ``lines`` list: each clearance once, in order."""
    numbers = [str(x.get("logisticsNo", "")) for x in lines if isinstance(x, dict)] if isinstance(lines, list) else []
    keys: list[str] = []
    for number in numbers:
        bill = waybill(documents, logistics_code, number, waybill_type)
        if bill is not None and bill.clearance_key and bill.clearance_key not in keys:
            keys.append(bill.clearance_key)
    return keys, numbers


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
        keys, numbers = listed_waybills(documents, WAYBILL, str(head.get("logisticsCode", "")),
                                        command.document.get(ENTRY.lines or "", []))
        links = Links(business_key=list(key), clearance_keys=keys, logistics_nos=numbers)
        return Identity(":".join(key), links)


@dataclass(frozen=True)
class ExportWaybillPolicy(DocumentPolicy):
    """CEB505: the clearance of the order the command names (``orderNo``; ``ebcCode`` of the node or command)."""

    def _seller(self, command: DeclareDocument) -> str:
        return str(self.head(command.document).get("ebcCode", "") or command.ebc_code)

    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        errors: list[CebError] = []
        if not command.order_no:
            errors.append(CebError("CBEC-0002", "orderNo", "contract",
                                   "an export waybill command names the order of its clearance (orderNo)"))
        seller, named = self._seller(command), str(self.head(command.document).get("ebcCode", ""))
        if not seller:
            errors.append(CebError("CBEC-0002", "ebcCode", "contract",
                                   "an export waybill names its seller: Logistics.ebcCode or the command's ebcCode"))
        elif named and command.ebc_code and command.ebc_code != named:
            errors.append(CebError("CBEC-0002", "ebcCode", "contract",
                                   f"the command's ebcCode differs from Logistics.ebcCode {named}"))
        return Identity(export_clearance(seller, command.order_no) or ":".join(key), Links(business_key=list(key)),
                        errors)

    def clearance_hint(self, command: DeclareDocument) -> str:
        return export_clearance(self._seller(command), command.order_no)


@dataclass(frozen=True)
class ExportWaybillsPolicy(DocumentPolicy):
    """A document listing export waybills (arrival, departure, master bill): it spans their clearances."""

    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        head = self.head(command.document)
        keys, numbers = listed_waybills(documents, EXPORT_WAYBILL, str(head.get("logisticsCode", "")),
                                        command.document.get(self.doc_type.lines or "", []))
        links = Links(business_key=list(key), clearance_keys=keys, logistics_nos=numbers)
        return Identity(":".join(key), links)

    def clearance_hint(self, command: DeclareDocument) -> str:
        return ""


_CARRIER = frozenset({Role.LOGISTICS})
MAX_LISTED = 1000  # the most lines a document listing waybills or lists holds here
STALE = "CBEC-2006"  # an export version older (appTime) than the stored one: no customs code in these ranges

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

EXPORT_WAYBILL_POLICY = ExportWaybillPolicy(
    EXPORT_WAYBILL,
    sender_roles=_CARRIER,
    sender_code_fields=("logisticsCode",),
    in_flight_code="-504012",
    locked_code="-504016",
    deletable=True,
    stale_code=STALE,
    held_at_intake=True,
    takes_strategy=True,
)
ARRIVAL_POLICY = ExportWaybillsPolicy(
    ARRIVAL,
    sender_roles=frozenset({Role.SITE_OPERATOR}),
    sender_code_fields=("operatorCode",),
    stale_code=STALE,
    held_at_intake=True,
    takes_strategy=True,
    max_lines=MAX_LISTED,  # unbounded in the XSD: the platform's own bound
)
DEPARTURE_POLICY = ExportWaybillsPolicy(
    DEPARTURE,
    sender_roles=_CARRIER,
    sender_code_fields=("logisticsCode",),
    stale_code=STALE,
    held_at_intake=True,
    takes_strategy=True,
    max_lines=MAX_LISTED,  # unbounded in the XSD: the platform's own bound
)
MASTER_BILL_POLICY = ExportWaybillsPolicy(
    MASTER_BILL,
    sender_roles=frozenset({Role.DECLARANT, Role.LOGISTICS}),
    sender_code_fields=("agentCode",),
    stale_code=STALE,
    held_at_intake=True,
    takes_strategy=True,
    max_lines=MAX_LISTED,  # unbounded in the XSD: the platform's own bound
)

POLICIES: tuple[DocumentPolicy, ...] = (
    WAYBILL_POLICY, WAYBILL_STATUS_POLICY, ENTRY_POLICY,
    EXPORT_WAYBILL_POLICY, ARRIVAL_POLICY, DEPARTURE_POLICY, MASTER_BILL_POLICY,
)
DOC_TYPES = [p.doc_type for p in POLICIES]
