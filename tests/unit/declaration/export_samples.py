"""Export documents for the stories: one export clearance of the demo enterprises, built from the official
2022 samples (``tests/data/ceb-202205/samples/export``) with the demo parties and a clearance's own numbers.

The seller (ebcCode) is the demo platform (also an e-commerce enterprise), the carrier the demo logistics
company, the declaring agent the demo bonded warehouse, the site operator the demo site.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cbec.ceb import codec
from cbec.tenants import TenantRegistry
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, PLATFORM, SITE_OPERATOR
from cbec_testkit.tenants import DEMO_TENANTS

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "ceb-202205" / "samples" / "export"
SELLER = PLATFORM
CUSTOMS = "5165"
# Enterprises of the same roles as the clearance's, acting for nobody in it.
OTHER_SELLER = "3105960021"
OTHER_CARRIER = "3105960023"
OTHER_AGENT = "3105960024"
OTHER_SITE = "3105960025"


def export_registry() -> TenantRegistry:
    """The demo tenants and one more enterprise of each role an export clearance has."""
    others = [(OTHER_SELLER, "ecommerce"), (OTHER_CARRIER, "logistics"), (OTHER_AGENT, "declarant"),
              (OTHER_SITE, "site_operator")]
    return TenantRegistry.from_json([
        # the seller has filed its overseas warehouse (9810 export needs it)
        *({**t, "overseasWarehouseFiling": "HWC3105960001"} if t["customsCode"] == SELLER else t
          for t in DEMO_TENANTS),
        *({"customsCode": code, "name": f"其他企业{code[-2:]}", "roles": [role], "dxpId": f"DXPENT00000000{code[-2:]}"}
          for code, role in others),
    ])


@cache
def _sample(code: str) -> dict[str, Any]:
    return codec.parse((SAMPLES / f"{code}Message.xml").read_bytes(), strict=False).docs[0]


def sample(code: str) -> dict[str, Any]:
    """The first document of the official sample message ``code`` (a copy)."""
    return copy.deepcopy(_sample(code))


def _names(head: dict[str, Any], **codes: str) -> None:
    """Set each ``<role>Code`` and its ``<role>Name``."""
    for field, code in codes.items():
        head[field] = code
        head[field.removesuffix("Code") + "Name"] = f"示例企业{code[-2:]}"


@dataclass
class ExportClearance:
    """The documents of one export clearance ``E:<SELLER>:<orderNo>``."""

    n: int
    ebp: str = PLATFORM

    @property
    def order_no(self) -> str:
        return f"EXP{self.n:08d}"

    @property
    def logistics_no(self) -> str:
        return f"ELN{self.n:08d}"

    @property
    def cop_no(self) -> str:
        return f"ECOP{self.n:08d}"

    @property
    def key(self) -> str:
        return f"E:{SELLER}:{self.order_no}"

    def order(self, order_type: str = "E") -> dict[str, Any]:
        doc = sample("CEB303")
        head = doc["OrderHead"]
        head.update(orderType=order_type, orderNo=self.order_no, goodsValue="2000", freight="10", currency="142")
        _names(head, ebpCode=self.ebp, ebcCode=SELLER)
        doc["OrderList"] = [{**doc["OrderList"][0], "unit": "011", "currency": "142", "qty": "100", "price": "20",
                             "totalPrice": "2000"}]
        return doc

    def collection(self) -> dict[str, Any]:
        doc = sample("CEB403")
        doc.update(orderNo=self.order_no, payNo=f"PAY{self.n:08d}", charge="2010", currency="142")
        _names(doc, ebpCode=self.ebp, ebcCode=SELLER, payCode="3105960002")
        return doc

    def waybill(self) -> dict[str, Any]:
        doc = sample("CEB505")
        doc.update(logisticsNo=self.logistics_no, currency="142")
        _names(doc, logisticsCode=LOGISTICS_COMPANY, ebcCode=SELLER)
        return doc

    def inventory(self, trade_mode: str = "9610") -> dict[str, Any]:
        doc = sample("CEB603")
        head = doc["InventoryHead"]
        head.update(customsCode=CUSTOMS, orderNo=self.order_no, logisticsNo=self.logistics_no, copNo=self.cop_no,
                    ieFlag="E", portCode=CUSTOMS, tradeMode=trade_mode, country="502", POD="502")
        _names(head, ebpCode=self.ebp, ebcCode=SELLER, ownerCode=SELLER, logisticsCode=LOGISTICS_COMPANY,
               agentCode=DECLARANT)
        line = doc["InventoryList"][0]
        line.update(country="142", currency="142", qty="100", price="20", totalPrice="2000", unit="011",
                    unit1="011")
        doc["InventoryList"] = [{k: v for k, v in line.items() if k not in ("qty2", "unit2")}]
        return doc

    def cancel(self, invt_no: str) -> dict[str, Any]:
        doc = sample("CEB605")
        doc.update(customsCode=CUSTOMS, copNo=self.cop_no, invtNo=invt_no)
        _names(doc, agentCode=DECLARANT, ebcCode=SELLER)
        return doc

    def export_return(self, invt_no: str) -> dict[str, Any]:
        doc = sample("CEB213")
        head = doc["InvtRefundHead"]
        head.update(customsCode=CUSTOMS, logisticsNo=self.logistics_no, coElNo=f"RET{self.n:08d}", invtNo=invt_no,
                    portCode=CUSTOMS)
        _names(head, ebpCode=self.ebp, ebcCode=SELLER, logisticsCode=LOGISTICS_COMPANY, agentCode=DECLARANT)
        return doc

    def tally(self, invt_no: str) -> dict[str, Any]:
        doc = sample("CEB215")
        doc.update(customsCode=CUSTOMS, logisticsNo=self.logistics_no, invtNo=invt_no, coElNo=f"RET{self.n:08d}")
        _names(doc, operatorCode=SITE_OPERATOR, logisticsCode=LOGISTICS_COMPANY)
        return doc


def arrival(cop_no: str, *clearances: ExportClearance) -> dict[str, Any]:
    doc = sample("CEB507")
    doc["ArrivalHead"].update(customsCode=CUSTOMS, copNo=cop_no)
    _names(doc["ArrivalHead"], operatorCode=SITE_OPERATOR, logisticsCode=LOGISTICS_COMPANY)
    doc["ArrivalList"] = [{"gnum": str(i), "logisticsNo": c.logistics_no} for i, c in enumerate(clearances, 1)]
    return doc


def departure(cop_no: str, *clearances: ExportClearance) -> dict[str, Any]:
    head = {"customsCode": CUSTOMS, "copNo": cop_no, "trafMode": "5", "trafName": "飞机", "voyageNo": "CZ465",
            "billNo": "B0001", "leaveTime": "20261201120000", "msgCount": "1", "msgSeqNo": "1"}
    _names(head, logisticsCode=LOGISTICS_COMPANY)
    lines = [{"gnum": str(i), "logisticsNo": c.logistics_no} for i, c in enumerate(clearances, 1)]
    return {"DepartureHead": head, "DepartureList": lines}


def master_bill(cop_no: str, *listed: tuple[ExportClearance, str]) -> dict[str, Any]:
    head = {"customsCode": CUSTOMS, "copNo": cop_no, "trafMode": "5", "trafName": "飞机", "voyageNo": "CZ465",
            "billNo": "B0001", "grossWeight": "10", "msgCount": "1", "msgSeqNo": "1"}
    _names(head, agentCode=DECLARANT, logisticsCode=LOGISTICS_COMPANY)
    lines = [{"gnum": str(i), "logisticsNo": c.logistics_no, "invtNo": invt_no}
             for i, (c, invt_no) in enumerate(listed, 1)]
    return {"WayBillHead": head, "WayBillList": lines}


def summary(cop_no: str, *invt_nos: str) -> dict[str, Any]:
    doc = sample("CEB701")
    doc["SummaryApplyHead"].update(customsCode=CUSTOMS, copNo=cop_no)
    _names(doc["SummaryApplyHead"], agentCode=DECLARANT, ebcCode=SELLER, declAgentCode=DECLARANT)
    doc["SummaryApplyList"] = [{"invtNo": n} for n in invt_nos]
    return doc
