"""Lists (CEB621), cancels (CEB623) and returns (CEB625).

Each is held at intake until the saga releases it: a list once its order, payment and waybill are
declared; a cancel or a return once the list's state allows it (the saga refuses them otherwise).
A list never changes once customs accepted it, nor does a cancel; a cancel is only ever new
(appType 1). The buyer's quota is this service's intake guard (see ``application.build``).
Customs numbers a list (invtNo) in its CEB622, which this service indexes: customs' tax bill (CEB816
电子税单) and its status (CEB818) name the list by it and are recorded on its stream (:mod:`.tax`); one
naming a list not yet numbered here waits (parked) for the CEB622, one whose invtNo is missing or ill-formed
is dead-lettered (CBEC-2010).

Export (each held at intake for the saga):
- an export list (CEB603; tradeMode 9610, 9710, 9810, 1210) belongs to its order's clearance
  ``E:<ebcCode>:<orderNo>``; customs numbers it (invtNo) in its CEB604, which this service indexes;
- an export cancel (CEB605) joins its list's clearance: the list of its agentCode and copNo, else the
  one customs numbered with its invtNo; a return (CEB213 退货申请单) the list its invtNo names;
- a return tally (CEB215) and a summary (CEB701 汇总申请单) span the clearances of the lists they name
  (``clearanceKeys``); customs numbers a summary (sumNo) in its CEB702 and closes it with a summary
  result (CEB792 汇总结果单), recorded on the summary's stream as ``SummaryResultRecorded`` (one arriving
  before the CEB702 waits, parked, for it: :mod:`cbec.declaration.parking`).
A document naming a list not declared here is refused (CBEC-2010) naming the field. Customs' export
list and cancel ranges (-601001…-605000, -605001…-609000) name no code for a second version in flight
or a change after acceptance, so cbec's own CBEC-2001 / CBEC-2003 do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cbec.contracts.commands import DeclareDocument
from cbec.contracts.customs import SUMMARY_RESULT_LISTS, ReceiptReceived
from cbec.contracts.events import EventData, Links, StreamFields, SummaryResultRecorded
from cbec.declaration.doctypes import (
    CANCEL,
    EXPORT_CANCEL,
    EXPORT_LIST,
    EXPORT_RETURN,
    INVENTORY,
    RETURN,
    RETURN_TALLY,
    SUMMARY,
    DocType,
)
from cbec.declaration.lifecycle import Declaration
from cbec.declaration.policy import DocumentPolicy, DocumentReader, ExportOrderPolicy, Identity
from cbec.declaration.tenancy import differs
from cbec.errors import CebError
from cbec.tenants import Role

from inventory_service import tax

SERVICE = "inventory"

_LIST_SENDERS = frozenset({Role.ECOMMERCE, Role.DECLARANT})


@dataclass(frozen=True)
class ListPolicy(DocumentPolicy):
    def distinct_parties(self, head: dict[str, Any], ebp_code: str) -> list[CebError]:
        """9610: the list's logisticsCode is neither its ebpCode nor its ebcCode. 1210: the list comes from
        a fourth enterprise (the bonded warehouse as declarant): its agentCode is none of the others."""
        if head.get("tradeMode") == "1210":
            return differs(self.where, head, "agentCode", "ebcCode", "ebpCode", "logisticsCode")
        return differs(self.where, head, "logisticsCode", "ebpCode", "ebcCode")

    def result_event(self, result: ReceiptReceived, stream: StreamFields) -> EventData | None:
        """Customs' tax bill (CEB816) or its status (CEB818) for the list (:mod:`.tax`)."""
        return tax.tax_event(result, stream) if result.receipt_type in tax.HEADS else None

    def unknown_result(self, result: ReceiptReceived) -> CebError | None:
        return tax.unknown_list(result)


LIST_POLICY = ListPolicy(
    INVENTORY,
    sender_roles=_LIST_SENDERS,
    sender_code_fields=("agentCode",),
    in_flight_code="-621004",
    no_change_code="-621011",
    no_change_released_code="-621012",
    held_at_intake=True,
    too_many_lines_code="-621030",  # list data exceeds the limit
    numbered_by=("invtNo",),  # customs' list number, in its CEB622 (the tax messages name the list by it)
    results=(tax.TAX_BILL, tax.TAX_STATUS),
    result_number="invtNo",
)
CANCEL_POLICY = DocumentPolicy(
    CANCEL,
    sender_roles=_LIST_SENDERS,
    sender_code_fields=("agentCode",),
    no_change_code="CBEC-2003",
    no_change_released_code="-621012",
    new_only=True,
    held_at_intake=True,
)
RETURN_POLICY = DocumentPolicy(
    RETURN,
    sender_roles=_LIST_SENDERS,
    sender_code_fields=("agentCode",),
    deletable=True,
    held_at_intake=True,
)


NOT_DECLARED_HERE = "CBEC-2010"
MAX_LISTED = 1000  # the most lines a document listing waybills or lists holds here
STALE = "CBEC-2006"  # an export version older (appTime) than the stored one: no customs code in these ranges
INVT_NO = "invtNo"  # the number customs gives an export list (CEB604)
SUM_NO = "sumNo"  # the number customs gives a summary (CEB702)
_CUSTOMS_NUMBER = re.compile(r"^[0-9A-Za-z]{1,18}$")  # an invtNo or sumNo as customs gives them (C..18)


def export_list(documents: DocumentReader, agent_code: str = "", cop_no: str = "",
                invt_no: str = "") -> Declaration | None:
    """An export list declared here: by its agentCode and copNo, else by the invtNo customs gave it."""
    if agent_code and cop_no:
        state = documents.load(EXPORT_LIST, EXPORT_LIST.stream_id((agent_code, cop_no)))
        if state.version and state.document is not None:
            return state
    return documents.numbered(EXPORT_LIST, INVT_NO, invt_no) if invt_no else None


def _unknown_list(path: str, invt_no: str, doc_type: DocType) -> CebError:
    return CebError(NOT_DECLARED_HERE, path, f"{doc_type.kind}: its list",
                    f"no export list {invt_no} was declared here (its invtNo comes from the list's CEB604 receipt)")


@dataclass(frozen=True)
class ExportCancelPolicy(DocumentPolicy):
    """CEB605: the clearance of the list it cancels (its agentCode+copNo, else its invtNo)."""

    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        head = self.head(command.document)
        invt_no = str(head.get(INVT_NO, ""))
        found = export_list(documents, str(head.get("agentCode", "")), str(head.get("copNo", "")), invt_no)
        links = Links(business_key=list(key))
        if found is None:
            return Identity(":".join(key), links, [_unknown_list(f"{self.where}.{INVT_NO}", invt_no, self.doc_type)])
        numbered = found.numbers.get(INVT_NO, "")
        if numbered and invt_no != numbered:
            mismatch = CebError(NOT_DECLARED_HERE, f"{self.where}.{INVT_NO}", f"{self.doc_type.kind}: its list",
                                f"the list of this agentCode and copNo is {numbered} at customs, not {invt_no}")
            return Identity(found.clearance_key, links, [mismatch])
        return Identity(found.clearance_key, links)


@dataclass(frozen=True)
class ExportReturnPolicy(DocumentPolicy):
    """CEB213: the clearance of the released list its invtNo names."""

    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        invt_no = str(self.head(command.document).get(INVT_NO, ""))
        found = export_list(documents, invt_no=invt_no)
        links = Links(business_key=list(key))
        if found is None:
            return Identity(":".join(key), links, [_unknown_list(f"{self.where}.{INVT_NO}", invt_no, self.doc_type)])
        return Identity(found.clearance_key, links)


@dataclass(frozen=True)
class ReturnTallyPolicy(DocumentPolicy):
    """CEB215: tallied at the site, it names the list (invtNo, optional) and waybill of the goods returned."""

    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        head = self.head(command.document)
        invt_no = str(head.get(INVT_NO, ""))
        found = export_list(documents, invt_no=invt_no)
        errors = [] if found is not None or not invt_no else [
            _unknown_list(f"{self.where}.{INVT_NO}", invt_no, self.doc_type)]
        keys = [found.clearance_key] if found is not None and found.clearance_key else []
        links = Links(business_key=list(key), clearance_keys=keys, logistics_nos=[str(head.get("logisticsNo", ""))])
        return Identity(":".join(key), links, errors)


@dataclass(frozen=True)
class SummaryPolicy(DocumentPolicy):
    """CEB701: spans the clearances of the lists it summarises; customs' CEB792 result is recorded on it."""

    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        lines = command.document.get(self.doc_type.lines or "", [])
        keys: list[str] = []
        errors: list[CebError] = []
        for i, line in enumerate(lines if isinstance(lines, list) else []):
            invt_no = str(line.get(INVT_NO, "")) if isinstance(line, dict) else ""
            found = export_list(documents, invt_no=invt_no)
            if found is None:
                errors.append(_unknown_list(f"{self.doc_type.lines}[{i + 1}].{INVT_NO}", invt_no, self.doc_type))
            elif found.clearance_key and found.clearance_key not in keys:
                keys.append(found.clearance_key)
        return Identity(":".join(key), Links(business_key=list(key), clearance_keys=keys), errors)

    def clearance_hint(self, command: DeclareDocument) -> str:
        return ""

    def result_event(self, result: ReceiptReceived, stream: StreamFields) -> EventData | None:
        node = result.node
        invt_nos = [n for n in node.get(SUMMARY_RESULT_LISTS, "").split(",") if n]
        return SummaryResultRecorded(
            **stream, result_id=result.receipt_id, sum_no=node.get(SUM_NO, ""), dec_state=node.get("decState", ""),
            op_date=node.get("opDate", "") or result.return_time, invt_nos=invt_nos,
            decl_seq_no=node.get("declSeqNo") or None, entry_id=node.get("entryId") or None,
        )

    def unknown_result(self, result: ReceiptReceived) -> CebError | None:
        """A summary result whose sumNo is missing or ill-formed names no summary (dead-lettered); one with a
        well-formed sumNo not yet known waits for the summary's CEB702 (parked)."""
        sum_no = result.node.get(SUM_NO, "")
        if _CUSTOMS_NUMBER.match(sum_no):
            return None
        return CebError(NOT_DECLARED_HERE, f"SummaryResultHead.{SUM_NO}", "summary result: its summary",
                        f"sumNo {sum_no[:18]!r} names no summary: customs' summary numbers are 1 to 18 letters "
                        "or digits (from the summary's CEB702 receipt)")


EXPORT_LIST_POLICY = ExportOrderPolicy(
    EXPORT_LIST,
    sender_roles=_LIST_SENDERS,
    sender_code_fields=("agentCode",),
    no_change_code="CBEC-2003",
    stale_code=STALE,
    held_at_intake=True,
    overseas_platform=True,
    numbered_by=(INVT_NO,),
    takes_strategy=True,
    strategy_fields=(("tradeMode", "trade_mode"),),  # a strategy fills 9610, 9710 or 9810
    is_list=True,  # none under a 报关单 strategy
    max_lines=100,  # XSD-E22
)
EXPORT_CANCEL_POLICY = ExportCancelPolicy(
    EXPORT_CANCEL,
    sender_roles=_LIST_SENDERS,
    sender_code_fields=("agentCode",),
    no_change_code="CBEC-2003",
    new_only=True,
    held_at_intake=True,
    takes_strategy=True,
)
EXPORT_RETURN_POLICY = ExportReturnPolicy(
    EXPORT_RETURN,
    sender_roles=_LIST_SENDERS,
    sender_code_fields=("agentCode",),
    deletable=True,
    stale_code=STALE,
    held_at_intake=True,
    overseas_platform=True,
    takes_strategy=True,
    max_lines=100,  # XSD-E22
)
RETURN_TALLY_POLICY = ReturnTallyPolicy(
    RETURN_TALLY,
    sender_roles=frozenset({Role.SITE_OPERATOR}),
    sender_code_fields=("operatorCode",),
    stale_code=STALE,
    held_at_intake=True,
    takes_strategy=True,
)
SUMMARY_POLICY = SummaryPolicy(
    SUMMARY,
    sender_roles=_LIST_SENDERS,
    sender_code_fields=("agentCode",),
    no_change_code="CBEC-2003",
    stale_code=STALE,
    held_at_intake=True,
    numbered_by=(SUM_NO,),
    results=("CEB792",),
    result_number=SUM_NO,
    takes_strategy=True,
    max_lines=MAX_LISTED,  # unbounded in the XSD: the platform's own bound
)

POLICIES: tuple[DocumentPolicy, ...] = (
    LIST_POLICY, CANCEL_POLICY, RETURN_POLICY,
    EXPORT_LIST_POLICY, EXPORT_CANCEL_POLICY, EXPORT_RETURN_POLICY, RETURN_TALLY_POLICY, SUMMARY_POLICY,
)
DOC_TYPES = [p.doc_type for p in POLICIES]
