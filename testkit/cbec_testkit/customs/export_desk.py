"""The simulator's export desk: what customs checks of an export document against its database, and
which receipts it plans (XSD-E22, ceb-formats §3/§4; receipt codes per ``return-status.csv``).

- CEB303/403 → 2, 120; CEB505/507/509/215 → 2, 399 (their receipts have no 120); CEB607 → 2, 120;
  CEB603 → 2, 120, 399, 800 (→ 899), with the invtNo customs assigns in every CEB604; CEB605 → 2, 399
  (the list is cancelled); CEB213 → 2, 120, 800; CEB701 → 2, 399 (the CEB702 names the sumNo), then a
  CEB792 汇总结果单 (sumNo, entryId, decState, one line per list). decState is the 2022 official sample's
  ``A`` (the summary's declaration stands), or what a story sets (:attr:`ExportDesk.summary_dec_state`).
- Out of order (customs rejects it, 100 with the reason): a list before its order and waybill, or whose
  tradeMode does not pair with its order's orderType (9610/1210 E, 9710 B, 9810 W); a 总分单
  or a 运抵单 naming a list customs has not released (a 运抵单 for a waybill without any list passes:
  报关单模式); a 离境单 before the 运抵 of each waybill; a cancel of a list not released or already
  departed; a return before departure; a tally before its return; a summary naming a list not released
  or of another seller.
- A second document with a key customs holds: the duplicate code where customs' export range holds the
  import one (order -301010, 收款单 -401007, waybill -504015), else 100 naming the duplicate.

Customs publishes no per-rule codes for the other export ranges (SPEC18 table 7-3 gives ranges only),
so those refusals are 100 (海关退单) with the reason in ``returnInfo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cbec.declaration.doctypes import EXPORT_BY_CODE, DocType

if TYPE_CHECKING:
    from cbec_testkit.customs.simulator import CustomsSimulator, _Record

CUSTOMS_EXPORT_DXP_ID = "DXPEDCCEB0000003"  # customs' DXP id for export messages (303 … 792)
DUPLICATE_CODE = {"CEB303": "-301010", "CEB403": "-401007", "CEB505": "-504015"}
RELEASED = (800, 899)
REJECTED = 100
SUMMARY_DONE = "A"  # the CEB792 decState of the 2022 official sample
TRADE_MODES_OF = {"E": ("9610", "1210"), "B": ("9710",), "W": ("9810",)}  # orderType → list tradeModes (REV22)
LIST_LINES = {"CEB507": "ArrivalList", "CEB509": "DepartureList", "CEB607": "WayBillList"}


def is_export(code: str) -> bool:
    return code in EXPORT_BY_CODE


@dataclass(frozen=True, slots=True)
class Step:
    """One planned receipt: after which delay of the config, which status, what customs says."""

    delay: str  # "first", "accept", "conclude", "release"
    status: int
    info: str


PLANS: dict[str, tuple[Step, ...]] = {
    "CEB303": (Step("first", 2, "电子口岸申报中"), Step("accept", 120, "海关入库")),
    "CEB403": (Step("first", 2, "电子口岸申报中"), Step("accept", 120, "海关入库")),
    "CEB505": (Step("first", 2, "电子口岸申报中"), Step("accept", 399, "海关审结")),
    "CEB507": (Step("first", 2, "电子口岸申报中"), Step("accept", 399, "运抵审结")),
    "CEB509": (Step("first", 2, "电子口岸申报中"), Step("accept", 399, "离境审结")),
    "CEB215": (Step("first", 2, "电子口岸申报中"), Step("accept", 399, "理货审结")),
    "CEB607": (Step("first", 2, "电子口岸申报中"), Step("accept", 120, "海关入库")),
    "CEB603": (Step("first", 2, "电子口岸申报中"), Step("accept", 120, "海关入库"), Step("conclude", 399, "海关审结"),
               Step("release", 800, "放行")),
    "CEB605": (Step("first", 2, "电子口岸申报中"), Step("conclude", 399, "撤销审结")),
    "CEB213": (Step("first", 2, "电子口岸申报中"), Step("accept", 120, "海关入库"), Step("release", 800, "退货放行")),
    "CEB701": (Step("first", 2, "电子口岸申报中"), Step("conclude", 399, "汇总审结")),
}


class ExportDesk:
    """Export rules against the simulator's database (its records, their planned statuses, its clock)."""

    def __init__(self, simulator: CustomsSimulator) -> None:
        self.sim = simulator
        self._sum_seq = 0
        self.sum_nos: dict[tuple[str, ...], str] = {}  # a summary's key → the sumNo customs gave it
        self.summary_dec_state = SUMMARY_DONE  # the decState of the summary results customs sends from now on

    # -- lookups ---------------------------------------------------------------------------------
    def _status(self, record: _Record | None) -> int | None:
        return record.status(self.sim.clock()) if record is not None else None

    def list_by_number(self, invt_no: str) -> _Record | None:
        return self.sim.list_numbered("CEB603", invt_no)

    def list_of_waybill(self, logistics_no: str) -> _Record | None:
        return self.sim.find("CEB603", logisticsNo=logistics_no)

    def _covering(self, code: str, logistics_no: str) -> list[_Record]:
        """The accepted records of group type ``code`` listing waybill ``logistics_no``."""
        found = []
        for (c, _), record in self.sim.records.items():
            if c == code and not record.rejected and any(
                    str(line.get("logisticsNo", "")) == logistics_no for line in _lines(record.doc, LIST_LINES[code])):
                found.append(record)
        return found

    def _passed(self, code: str, logistics_no: str) -> bool:
        """Whether an accepted 运抵单/离境单 listing the waybill reached 399 by now."""
        return any(self._status(r) == 399 for r in self._covering(code, logistics_no))

    def departed(self, logistics_no: str) -> bool:
        return self._passed("CEB509", logistics_no)

    # -- checks ------------------------------------------------------------------------------------
    def duplicate(self, code: str) -> tuple[str, str]:
        return DUPLICATE_CODE.get(code, str(REJECTED)), "重复申报: 已存在相同编号的单证"

    def refusal(self, doc_type: DocType, doc: dict[str, Any]) -> str:
        """Why customs rejects the document now ('' if it does not)."""
        code, head = doc_type.code, doc_type.head_of(doc)
        if code == "CEB603":
            missing = []
            order = self.sim.find("CEB303", orderNo=str(head.get("orderNo", "")), ebcCode=str(head.get("ebcCode", "")))
            if order is None:
                missing.append("订单")
            if self.sim.find("CEB505", logisticsNo=str(head.get("logisticsNo", ""))) is None:
                missing.append("运单")
            if missing:
                return f"海关退单: 未找到已入库的{'、'.join(missing)}"
            assert order is not None
            order_type = str(order.doc.get("OrderHead", {}).get("orderType", ""))
            trade_mode = str(head.get("tradeMode", ""))
            if order_type in TRADE_MODES_OF and trade_mode not in TRADE_MODES_OF[order_type]:
                return f"海关退单: 清单贸易方式 {trade_mode} 与订单类型 {order_type} 不符"
            return ""
        if code in ("CEB507", "CEB607"):
            for line in _lines(doc, LIST_LINES[code]):
                number = str(line.get("logisticsNo", ""))
                listed = self.list_by_number(str(line.get("invtNo", ""))) if line.get("invtNo") else None
                listed = listed or self.list_of_waybill(number)
                if listed is None and code == "CEB507" and self.sim.find("CEB505", logisticsNo=number) is not None:
                    continue  # 报关单模式: a waybill declared without a list
                if self._status(listed) not in RELEASED:
                    return f"海关退单: 运单 {number} 的清单未放行(状态 {self._status(listed)})"
            return ""
        if code == "CEB509":
            for line in _lines(doc, "DepartureList"):
                number = str(line.get("logisticsNo", ""))
                if not self._passed("CEB507", number):
                    return f"海关退单: 运单 {number} 未运抵, 不能离境"
            return ""
        if code in ("CEB605", "CEB213"):
            listed = self.list_by_number(str(head.get("invtNo", "")))
            if listed is None:
                return f"海关退单: 系统中不存在清单 {head.get('invtNo', '')}"
            status = self._status(listed)
            number = str(listed.doc.get("InventoryHead", {}).get("logisticsNo", ""))
            if status not in RELEASED:
                return f"清单的状态不符合{'撤单' if code == 'CEB605' else '退货'}申报要求(清单状态 {status})"
            if code == "CEB605" and self.departed(number):
                return "清单的状态不符合撤单申报要求: 货物已离境"
            if code == "CEB213" and not self.departed(number):
                return "退货申请单申报失败: 货物未离境"
            return ""
        if code == "CEB215":
            refund = self.sim.find("CEB213", coElNo=str(head.get("coElNo", "")))
            if self._status(refund) not in (120, 800):
                return f"海关退单: 未找到已入库的退货申请单 {head.get('coElNo', '')}"
            return ""
        if code == "CEB701":
            for line in _lines(doc, "SummaryApplyList"):
                listed = self.list_by_number(str(line.get("invtNo", "")))
                if self._status(listed) not in RELEASED:
                    return f"海关退单: 清单 {line.get('invtNo', '')} 未放行, 不能汇总"
                assert listed is not None
                if listed.doc.get("InventoryHead", {}).get("ebcCode") != head.get("ebcCode"):
                    return f"海关退单: 清单 {line.get('invtNo', '')} 不属于电商企业 {head.get('ebcCode', '')}"
            return ""
        return ""

    # -- receipts ------------------------------------------------------------------------------------
    def plan(self, code: str) -> list[tuple[float, int, str]]:
        c = self.sim.config
        delays = {"first": c.first_delay, "accept": c.accept_delay, "conclude": c.conclude_delay,
                  "release": c.release_delay}
        t, out = 0.0, []
        for step in PLANS[code]:
            t += delays[step.delay] if step.delay != "first" else c.first_delay
            out.append((t, step.status, step.info))
        if code == "CEB603" and c.close_delay is not None:
            out.append((t + c.close_delay, 899, "结关"))
        return out

    def sum_no(self, doc_type: DocType, head: dict[str, Any]) -> str:
        """The sumNo customs gives a summary (stable per summary key)."""
        key = doc_type.business_key({doc_type.head: head} if doc_type.head else head)
        if key not in self.sum_nos:
            self._sum_seq += 1
            self.sum_nos[key] = f"S{head.get('customsCode', '0000')}{self._sum_seq:013d}"[:18]
        return self.sum_nos[key]

    def summary_result(self, doc: dict[str, Any], sum_no: str, op_due: float) -> dict[str, Any]:
        """The CEB792 汇总结果单 of an accepted summary: one line per list and list item."""
        head = doc.get("SummaryApplyHead", {})
        lines: list[dict[str, str]] = []
        gross = net = 0.0
        for line in _lines(doc, "SummaryApplyList"):
            listed = self.list_by_number(str(line.get("invtNo", "")))
            if listed is None:
                continue
            lh = listed.doc.get("InventoryHead", {})
            gross += float(lh.get("grossWeight") or 0)
            net += float(lh.get("netWeight") or 0)
            for item in _lines(listed.doc, "InventoryList"):
                lines.append({"invtNo": str(line["invtNo"]), "logisticsNo": str(lh.get("logisticsNo", "")),
                              "gseqno": "1", "gnum": str(item.get("gnum", "1")), "gcode": str(item.get("gcode", ""))})
        seq = sum_no[-9:]
        result_head = {
            "guid": head.get("guid", ""), "customsCode": head.get("customsCode", ""), "sumNo": sum_no,
            "opDate": "", "declSeqNo": f"D{seq:0>17}"[:18],
            "entryId": f"{head.get('customsCode', '0000')}2026{seq:0>10}"[:18],
            "decState": self.summary_dec_state,
            "agentCode": head.get("agentCode", ""), "agentName": head.get("agentName", ""),
            "ebcCode": head.get("ebcCode", ""), "ebcName": head.get("ebcName", ""),
            "declAgentCode": head.get("declAgentCode", ""), "declAgentName": head.get("declAgentName", ""),
            "grossWeight": f"{gross:.2f}", "netWeight": f"{net:.2f}", "msgCount": "1", "msgSeqNo": "1",
        }
        return {"SummaryResultHead": result_head, "SummaryResultList": lines}

    def clearances_of(self, doc_type: DocType, doc: dict[str, Any]) -> list[str]:
        """The export clearances (``E:<ebcCode>:<orderNo>``) a document is about."""
        code, head = doc_type.code, doc_type.head_of(doc)
        if code in ("CEB303", "CEB403", "CEB603"):
            return [f"E:{head.get('ebcCode', '')}:{head.get('orderNo', '')}"]
        numbers: list[str] = []
        if code in LIST_LINES:
            numbers = [str(line.get("logisticsNo", "")) for line in _lines(doc, LIST_LINES[code])]
        elif code in ("CEB505", "CEB213", "CEB215"):
            numbers = [str(head.get("logisticsNo", ""))]
        elif code == "CEB605":
            listed = self.list_by_number(str(head.get("invtNo", "")))
            numbers = [str(listed.doc["InventoryHead"].get("logisticsNo", ""))] if listed else []
        elif code == "CEB701":
            for line in _lines(doc, "SummaryApplyList"):
                listed = self.list_by_number(str(line.get("invtNo", "")))
                if listed is not None:
                    numbers.append(str(listed.doc["InventoryHead"].get("logisticsNo", "")))
        out = []
        for number in numbers:
            listed = self.list_of_waybill(number)
            if listed is not None:
                lh = listed.doc["InventoryHead"]
                out.append(f"E:{lh.get('ebcCode', '')}:{lh.get('orderNo', '')}")
            else:
                out.append(f"E:waybill:{number}")  # no list (yet): the waybill stands for its clearance
        return out


def _lines(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    lines = doc.get(name, [])
    return [x for x in (lines if isinstance(lines, list) else [lines]) if isinstance(x, dict)]
