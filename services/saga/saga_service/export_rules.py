"""The export chain as data: what each export document waits for, and what the saga refuses.

An export clearance (keyed ``E:<ebcCode>:<orderNo>``) holds the order (CEB303), the 收款单 (CEB403),
the waybill (CEB505), the list (CEB603), its cancel (CEB605) and its return (CEB213). Documents that
span many clearances are saga instances of their own (*groups*, keyed by their own clearance key)
naming their member clearances (``clearanceKeys``): the 运抵单 CEB507, the 离境单 CEB509, the 清单总分单
CEB607, the 汇总申请单 CEB701 and the 退运理货单 CEB215 (the join is :mod:`saga_service.export_join`).

The order (ceb-formats §3, §4, §8; 公告2020年第44号):

- the waybill after the order; the list after the order, the waybill and, where the region requires
  it for the list's trade mode (:attr:`ExportPolicy.collection_for`), the 收款单;
- a group waits for each member: the 总分单 and the 运抵单 for the member's list released (800); the
  离境单 for the member arrived (its 运抵单 accepted); the summary for the member's list released;
  the tally for the member's return accepted;
- a cancel only while the list is released and its goods have not departed (refused after departure);
- a return only after departure, within one year of the list's release.

报关单模式 (strategies ``9710报关单`` / ``9810报关单``): no list is declared; the 运抵单 waits for the
member's waybill instead, and the clearance is finished once its waybill and its departure are accepted.
In 清单模式 a clearance is finished once the summary result (CEB792) closed its list, or its cancel was
accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cbec.contracts.events import SUMMARY_RESULT_RECORDED
from cbec.declaration.receipt_clock import parse_return_time
from cbec.declaration.strategies import DECLARATION_MODE  # the strategy suffix of 报关单模式 (seed 003)

if TYPE_CHECKING:
    from saga_service.domain import Clearance

ORDER, COLLECTION, WAYBILL, LIST = "export-order", "collection", "export-waybill", "export-inventory"
CANCEL, RETURN = "export-cancel", "export-return"
ARRIVAL, DEPARTURE, MASTER_BILL, SUMMARY, TALLY = "arrival", "departure", "master-bill", "summary", "return-tally"
GROUPS = frozenset({ARRIVAL, DEPARTURE, MASTER_BILL, SUMMARY, TALLY})
"""Kinds whose document spans many clearances (an instance of its own, members by ``clearanceKeys``)."""

# Milestones a group records on each member once customs accepted it (or, for the summary, closed it).
ARRIVED, DEPARTED, BOUND, SUMMARISED, TALLIED = "arrived", "departed", "bound", "summarised", "tallied"
MILESTONE_OF = {ARRIVAL: ARRIVED, DEPARTURE: DEPARTED, MASTER_BILL: BOUND, SUMMARY: SUMMARISED, TALLY: TALLIED}

RELEASED = frozenset({800, 899})  # an export list released (放行) or closed (结关): ceb-formats §4
ORDER_TYPES = {"E": "9610", "B": "9710", "W": "9810"}  # CEB303 orderType → the list's trade mode (REV22)
RETURN_WINDOW = timedelta(days=365)  # 公告2020年第44号: goods come back within 1 year of release

SUMMARY_RESULT = SUMMARY_RESULT_RECORDED
"""The summary owner's public event for a CEB792 on the CEB701's stream (closes the summary's lists)."""

CANCEL_CODE = "CBEC-EXPORT-CANCEL"
RETURN_CODE = "CBEC-EXPORT-RETURN"


@dataclass(frozen=True, slots=True)
class ExportPolicy:
    """Where the sources differ by region: the trade modes whose list waits for a 收款单 (CEB403)."""

    collection_for: frozenset[str] = frozenset()


def is_export(key: str) -> bool:
    return key.startswith("E:")


def trade_mode(state: Clearance) -> str:
    """The clearance's trade mode: the list's ``tradeMode``, else the order's (by ``orderType``), else ''."""
    for kind in (LIST, ORDER):
        doc = state.docs.get(kind)
        if doc is not None and doc.trade_mode:
            return doc.trade_mode
    return ""


def customs_declaration_mode(state: Clearance) -> bool:
    """报关单模式: a document of the clearance names a ``…报关单`` strategy (no list is declared)."""
    return any(doc.strategy.endswith(DECLARATION_MODE) for doc in state.docs.values())


def prerequisites(state: Clearance, kind: str, policy: ExportPolicy) -> tuple[str, ...]:
    """The kinds of the same clearance ``kind`` waits for (at the gate)."""
    if kind == WAYBILL:
        return (ORDER,)
    if kind == LIST:
        needs_collection = trade_mode(state) in policy.collection_for or "*" in policy.collection_for
        return (ORDER, *((COLLECTION,) if needs_collection else ()), WAYBILL)
    return ()


def list_released(state: Clearance) -> bool:
    doc = state.docs.get(LIST)
    return doc is not None and doc.status_code in RELEASED


def member_ready(member: Clearance, group_kind: str, gate: int) -> bool:
    """Whether member clearance ``member`` is where a ``group_kind`` document needs it."""
    if group_kind in (MASTER_BILL, SUMMARY):
        return list_released(member)
    if group_kind == ARRIVAL:
        if customs_declaration_mode(member):
            waybill = member.docs.get(WAYBILL)
            return waybill is not None and waybill.at_gate(gate)
        return list_released(member)
    if group_kind == DEPARTURE:
        return ARRIVED in member.milestones
    if group_kind == TALLY:
        doc = member.docs.get(RETURN)
        return doc is not None and doc.at_gate(gate)
    return False


def member_waits_for(group_kind: str, member: str) -> str:
    """How a group's view names what it waits for from one member."""
    what = {MASTER_BILL: "the list released", SUMMARY: "the list released",
            ARRIVAL: "the list released (报关单模式: the waybill accepted)",
            DEPARTURE: "the goods arrived (运抵)", TALLY: "the return accepted"}[group_kind]
    return f"{what} of {member}"


def milestone_reached(group: Clearance, kind: str, gate: int) -> str:
    """The milestone group ``group`` records on its members now ('' while there is none)."""
    doc = group.docs.get(kind)
    if doc is None:
        return ""
    if kind == SUMMARY:
        return SUMMARISED if doc.result else ""
    return MILESTONE_OF[kind] if doc.at_gate(gate) else ""


def cancel_verdict(state: Clearance) -> bool | dict[str, str]:
    """An export cancel (CEB605): released while the list is released and its goods have not departed."""
    departed = state.milestones.get(DEPARTED)
    if departed is not None:
        why = f"the goods departed (离境) at {departed}: a list is cancelled only before departure"
    elif list_released(state):
        return True
    else:
        doc = state.docs.get(LIST)
        why = f"the list is not released (status {doc.status_code if doc else None})"
    return {"code": CANCEL_CODE, "path": "InvtCancel.invtNo", "rule": "export cancel: released, before departure",
            "message": f"清单的状态不符合撤单申报要求: {why}"}


def return_verdict(state: Clearance, at: datetime) -> bool | dict[str, str]:
    """An export return (CEB213): after departure and within one year of the list's release (公告2020年第44号)."""
    released = release_time(state)
    if released is None:
        doc = state.docs.get(LIST)
        why = f"the list is not released (status {doc.status_code if doc else None})"
    elif DEPARTED not in state.milestones:
        why = "the goods have not departed (离境): a return follows departure"
    elif at - released > RETURN_WINDOW:
        why = f"more than one year since the list was released ({released.date().isoformat()}, 公告2020年第44号)"
    else:
        return True
    return {"code": RETURN_CODE, "path": "InvtRefundHead.invtNo", "rule": "export return: after departure, within"
            " 1 year of release", "message": f"退货申请单申报失败: {why}"}


def release_time(state: Clearance) -> datetime | None:
    """When customs released the list (its earliest 800 receipt), None if it is not released."""
    doc = state.docs.get(LIST)
    if doc is None or doc.status_code not in RELEASED:
        return None
    times = [parse_return_time(r.time) for r in doc.history + doc.receipts if r.status in RELEASED]
    found = [t for t in times if t is not None]
    return min(found) if found else None


def finished(state: Clearance, gate: int) -> bool:
    """Nothing more is due for the clearance (see the module docstring)."""
    if customs_declaration_mode(state):
        waybill = state.docs.get(WAYBILL)
        return waybill is not None and waybill.at_gate(gate) and DEPARTED in state.milestones
    cancel = state.docs.get(CANCEL)
    if cancel is not None and cancel.status_code in (399, 800):
        return True
    return SUMMARISED in state.milestones
