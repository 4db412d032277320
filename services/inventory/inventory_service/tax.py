"""Customs' tax messages about an import list: the electronic tax bill (CEB816 电子税单) and its status
(CEB818 电子税单状态), recorded on the list's stream as ``TaxBillRecorded`` / ``TaxStatusRecorded``.

Customs issues a tax bill for a released list (seed 004 Q12: the estimated tax is taken from the
enterprise's guarantee at release; every thirty days the enterprise has customs draw up a payment notice,
税单缴款书, for the bills since the last one and pays them). A bill's status is 1 已生成 (generated), 2 已汇总
(summarised into a payment notice, whose number is ``entDutyNo``) or 3 作废 (void); a CEB818 changes it.

The customs link hands each message over as a ``ReceiptReceived`` whose ``node`` holds the head's text
fields (TaxHeadRd / TaxHeadStatus) and whose business key is the list's invtNo. The fields are checked
here against the XSD's facets (ceb-import.xsd, TaxHeadRd): a message breaking them is refused with a
``ContractError`` naming the field, and so dead-lettered, never half recorded. The check is written out
rather than run through the XSD because the link has already parsed the message leniently and hands over
only its text fields.
"""

from __future__ import annotations

import re

from cbec.contracts.base import ContractError
from cbec.contracts.customs import ReceiptReceived
from cbec.contracts.events import TAX_STATUSES, EventData, StreamFields, TaxBillRecorded, TaxStatusRecorded
from cbec.errors import CebError

TAX_BILL = "CEB816"
TAX_STATUS = "CEB818"
HEADS = {TAX_BILL: "TaxHeadRd", TAX_STATUS: "TaxHeadStatus"}
BAD_TAX_FIELD = "CBEC-2020"  # a tax message's field breaks its XSD facet (customs' own range names none)
UNKNOWN_LIST = "CBEC-2010"  # its invtNo can name no list (missing or ill-formed)

_AMOUNT = re.compile(r"^[0-9]{1,14}(\.[0-9]{1,5})?$")  # N19,5, never negative
_TIME = re.compile(r"^[0-9]{17}$")  # yyyyMMddHHmmssSSS
_INVT_NO = re.compile(r"^[0-9A-Za-z]{1,18}$")  # customs' list number (an18 in its CEB622)
_AMOUNTS = ("customsTax", "valueAddedTax", "consumptionTax")
_TEXTS = (("invtNo", 18, True), ("taxNo", 50, True), ("entDutyNo", 50, False), ("assureCode", 64, False))


def problems(message_type: str, node: dict[str, str]) -> list[CebError]:
    """What in a tax message's head breaks the XSD's facets, each naming its field."""
    head = HEADS[message_type]
    out: list[CebError] = []

    def bad(name: str, message: str) -> None:
        out.append(CebError(BAD_TAX_FIELD, f"{head}.{name}", "xsd", message))

    for name, longest, required in _TEXTS:
        value = node.get(name, "")
        if required and not value:
            bad(name, f"{name} is required")
        elif len(value) > longest:
            bad(name, f"{name} holds at most {longest} characters")
    if node.get("status", "") not in TAX_STATUSES:
        bad("status", "status must be 1 (generated), 2 (summarised) or 3 (void)")
    if not _TIME.match(node.get("returnTime", "")):
        bad("returnTime", "returnTime must be 17 digits (yyyyMMddHHmmssSSS)")
    if message_type == TAX_BILL:
        for name in _AMOUNTS:
            if not _AMOUNT.match(node.get(name, "")):
                bad(name, f"{name} must be a non-negative amount of at most 14 integer and 5 decimal digits")
    return out


def tax_event(result: ReceiptReceived, stream: StreamFields) -> EventData:
    """The event recording a CEB816 or CEB818 on its list's stream (``ContractError``: a field breaks its facet)."""
    node = result.node
    found = problems(result.receipt_type, node)
    if found:
        raise ContractError(found)
    ent_duty_no, assure_code = node.get("entDutyNo") or None, node.get("assureCode") or None
    if result.receipt_type == TAX_BILL:
        return TaxBillRecorded(**stream, result_id=result.receipt_id, invt_no=node["invtNo"], tax_no=node["taxNo"],
                               status=node["status"], return_time=node["returnTime"], customs_tax=node["customsTax"],
                               value_added_tax=node["valueAddedTax"], consumption_tax=node["consumptionTax"],
                               ent_duty_no=ent_duty_no, assure_code=assure_code)
    return TaxStatusRecorded(**stream, result_id=result.receipt_id, invt_no=node["invtNo"], tax_no=node["taxNo"],
                             status=node["status"], return_time=node["returnTime"], ent_duty_no=ent_duty_no,
                             assure_code=assure_code)


def unknown_list(result: ReceiptReceived) -> CebError | None:
    """Why a tax message naming no list numbered here cannot wait for one: its invtNo is missing or
    ill-formed (dead-lettered). A well-formed invtNo not yet known is parked until the list's CEB622
    assigns it (:mod:`cbec.declaration.parking`)."""
    invt_no = result.node.get("invtNo", "")
    if _INVT_NO.match(invt_no):
        return None
    head = HEADS.get(result.receipt_type, "Tax")
    return CebError(UNKNOWN_LIST, f"{head}.invtNo", "tax: its list",
                    f"invtNo {invt_no[:18]!r} names no import list: customs' list numbers are 1 to 18 letters "
                    "or digits (from the list's CEB622 receipt)")
