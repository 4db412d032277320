"""The export chain as data: what each export document waits for, and what the saga refuses.

An export clearance (keyed ``E:<ebcCode>:<orderNo>``) holds the order (CEB303), the 收款单 (CEB403),
the waybill (CEB505), the list (CEB603), its cancel (CEB605) and its return (CEB213). Documents that
span many clearances are saga instances of their own (*groups*, keyed by their own clearance key)
naming their member clearances (``clearanceKeys``): the 运抵单 CEB507, the 离境单 CEB509, the 清单总分单
CEB607, the 汇总申请单 CEB701 and the 退运理货单 CEB215 (the join is :mod:`saga_service.export_join`).

A group's saga instance is keyed by its kind as well (:func:`instance_key`, ``G:<kind>:<code>:<copNo>``):
the owning services key a group by its business key (``agentCode:copNo`` …), which a 总分单 and a summary
of the same agent may share, and which may read like an import clearance key.

The order (ceb-formats §3, §4, §8; 公告2020年第44号):

- the waybill after the order; the list after the order, the waybill and, where the region requires
  it for the list's trade mode (:attr:`ExportPolicy.collection_for`), the 收款单;
- a group waits for each member: the 总分单 and the 运抵单 for the member's list released (800); the
  离境单 for the member arrived (its 运抵单 accepted); the summary for the member's list released;
  the tally for the member's return accepted;
- a cancel only while the list is released and its goods have not departed (refused after departure);
- a return only after departure, within one year of the list's release;
- the list's trade mode pairs with its order's orderType (:data:`TRADE_MODES_OF`), else it is refused.

A group never waits silently: held past the receipt deadline it raises an alert naming each member and
what it waits for; a member that can no longer qualify (its list cancelled, its list/waybill/return
rejected or refused; :func:`member_lost`) refuses the group, naming the member and why, with an alert.
Only a successful CEB792 ``decState`` (:data:`DEC_STATES_DONE`) closes the summary's lists; another
raises an alert and leaves them open for a new summary.

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
    from saga_service.domain import Clearance, Doc

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
PAIRING_CODE = "CBEC-EXPORT-PAIRING"
MEMBER_CODE = "CBEC-EXPORT-MEMBER"

GROUP_PREFIX = "G"
# orderType → the list trade modes it pairs with (REV22; the XSD: E 出口商品订单 covers 一般出口 9610 and
# 特殊区域出口 1210, B the B2B direct export 9710, W the overseas-warehouse booking 9810).
TRADE_MODES_OF = {"E": frozenset({"9610", "1210"}), "B": frozenset({"9710"}), "W": frozenset({"9810"})}
# The CEB792's decState that closes the summarised lists. The XSD leaves the values to customs
# ("具体返回值由海关确定") and no published table was found: the 2022 official sample's ``A`` is the one
# success state known; any other state raises an alert and leaves the lists open (never closes them).
DEC_STATES_DONE = frozenset({"A"})
CANCELLED = frozenset({399, 800})  # an export cancel (CEB605) accepted: the list is cancelled


@dataclass(frozen=True, slots=True)
class ExportPolicy:
    """Where the sources differ by region: the trade modes whose list waits for a 收款单 (CEB403)."""

    collection_for: frozenset[str] = frozenset()


def is_export(key: str) -> bool:
    return key.startswith("E:")


def instance_key(kind: str | None, clearance_key: str) -> str:
    """The saga instance a document of ``kind`` keyed ``clearance_key`` folds into: a group's own, by kind."""
    if kind in GROUPS and clearance_key:
        return f"{GROUP_PREFIX}:{kind}:{clearance_key}"
    return clearance_key


def pairing_verdict(state: Clearance) -> dict[str, str] | None:
    """The list's tradeMode against its order's orderType: a refusal when they do not pair, else None."""
    order, listed = state.docs.get(ORDER), state.docs.get(LIST)
    if order is None or listed is None or not order.order_type or not listed.trade_mode:
        return None
    allowed = TRADE_MODES_OF.get(order.order_type)
    if allowed is None or listed.trade_mode in allowed:
        return None
    return {"code": PAIRING_CODE, "path": "InventoryHead.tradeMode",
            "rule": "REV22 tradeMode pairs with orderType (9610/1210 E, 9710 B, 9810 W)",
            "message": f"the list's tradeMode {listed.trade_mode} does not pair with its order's orderType "
                       f"{order.order_type} (which pairs with {'/'.join(sorted(allowed))})"}


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


def member_lost(member: Clearance, group_kind: str) -> str:
    """Why member clearance ``member`` can no longer be where a ``group_kind`` document needs it ('' if it can)."""
    cancel = member.docs.get(CANCEL)
    if cancel is not None and cancel.status_code in CANCELLED:
        return "its list was cancelled (CEB605 accepted)"
    if group_kind == TALLY:
        return _lost(member.docs.get(RETURN), "return")
    if group_kind == DEPARTURE and ARRIVED in member.milestones:
        return ""
    if group_kind in (ARRIVAL, DEPARTURE) and customs_declaration_mode(member):
        return _lost(member.docs.get(WAYBILL), "waybill")
    return _lost(member.docs.get(LIST), "list")


def _lost(doc: Doc | None, what: str) -> str:
    if doc is None:
        return ""
    if doc.rejected and doc.current is not None:
        return f"its {what} {doc.doc_type} was rejected by customs ({doc.current.status}: {doc.current.info})"
    if doc.phase == "refused" or doc.refused_generation == doc.generation:
        why = "; ".join(e.get("message", "") for e in doc.intake_errors) or doc.refused_why or "refused"
        return f"its {what} {doc.doc_type} was refused ({why})"
    return ""


def member_refusal(group_kind: str, lost: dict[str, str]) -> dict[str, str]:
    """The refusal of a group whose members ``lost`` (member clearance → why) can no longer qualify."""
    what = ", ".join(f"{member}: {why}" for member, why in sorted(lost.items()))
    return {"code": MEMBER_CODE, "path": "clearanceKeys",
            "rule": "export group: every member clearance can still qualify",
            "message": f"the {group_kind} can no longer go: a member cannot be {_NEEDS[group_kind]} ({what})"}


_NEEDS = {MASTER_BILL: "released", SUMMARY: "released", ARRIVAL: "released (报关单模式: its waybill accepted)",
          DEPARTURE: "arrived (运抵)", TALLY: "returned (its return accepted)"}


def summary_closed(doc: Doc) -> bool:
    """The summary's CEB792 arrived with a successful declaration state (:data:`DEC_STATES_DONE`)."""
    return bool(doc.result) and doc.result.get("decState", "") in DEC_STATES_DONE


def summary_failed(doc: Doc) -> str:
    """Why the summary's CEB792 closes nothing ('' while there is none, or it closed its lists)."""
    if not doc.result or summary_closed(doc):
        return ""
    return (f"the summary result {doc.result.get('sumNo', '')} of {doc.doc_type} came with decState "
            f"{doc.result.get('decState', '')!r}, not a successful declaration state "
            f"({'/'.join(sorted(DEC_STATES_DONE))}): its lists stay open for a new summary")


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
        return SUMMARISED if summary_closed(doc) else ""
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
