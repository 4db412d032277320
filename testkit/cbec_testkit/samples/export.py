"""Generated export documents (CEB303 … CEB701) for the demo and tests: one consistent set per clearance.

A clearance is one order of a seller (``ebcCode``) shipped on one export waybill and declared on one list,
in a trade mode: 9610 (B2C, orderType E), 9710 (B2B direct, B) or 9810 (overseas warehouse, W). The
groups (运抵单, 离境单, 总分单, 汇总申请单, 退运理货单) list the waybills or lists of several clearances.
Codes are customs' numeric ones (currency 502 USD, country 502 USA, unit 011 件/035 千克, trafMode 5 air);
every party is fictitious (:mod:`cbec_testkit.samples.parties`). All data is XSD-E22 valid.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cbec_testkit.samples.parties import (
    CUSTOMS_CODE,
    DECLARANT,
    DECLARANT_NAME,
    LOGISTICS_COMPANY,
    LOGISTICS_NAME,
    PAYMENT_COMPANY,
    PAYMENT_NAME,
    PLATFORM,
    PLATFORM_NAME,
    SITE_OPERATOR,
    SITE_OPERATOR_NAME,
)

SELLER, SELLER_NAME = PLATFORM, PLATFORM_NAME  # the platform sells on its own account
ORDER_TYPES = {"9610": "E", "9710": "B", "9810": "W"}
APP_TIME = "20261201100000"
PORT = "5165"  # the export port (and customs district) of the demo
BILL_NO = "MAWB-784-20261201"
VOYAGE = "CA1234"
_GOODS = [  # (name, model, HS code, unit, price in USD)
    ("陶瓷茶具", "一壶四杯/套", "6912001000", "006", "35"),
    ("蓝牙耳机", "入耳式 黑色", "8518300000", "007", "18"),
    ("纯棉T恤", "男款 L码", "6109100021", "007", "6"),
]


@dataclass(frozen=True, slots=True)
class ExportClearance:
    """The numbers of one export clearance (the documents are built from them)."""

    n: int
    trade_mode: str = "9610"

    @property
    def order_no(self) -> str:
        return f"EXP{self.trade_mode}{self.n:06d}"

    @property
    def logistics_no(self) -> str:
        return f"EL{self.trade_mode}{self.n:08d}"

    @property
    def cop_no(self) -> str:
        return f"EL{self.trade_mode}{self.n:06d}"

    @property
    def clearance_key(self) -> str:
        return f"E:{SELLER}:{self.order_no}"

    @property
    def goods(self) -> tuple[str, str, str, str, str]:
        return _GOODS[self.n % len(_GOODS)]

    @property
    def qty(self) -> Decimal:
        return Decimal(2 + self.n % 3) * (Decimal(20) if self.trade_mode != "9610" else Decimal(1))

    @property
    def total(self) -> Decimal:
        return self.qty * Decimal(self.goods[4])


def _guid(name: str) -> str:
    """A stable guid per document (the same document built twice is the same document)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cbec-export-sample:{name}")).upper()


def _head(kind: str, ident: str) -> dict[str, str]:
    return {"guid": _guid(f"{kind}:{ident}"), "appType": "1", "appTime": APP_TIME, "appStatus": "2"}


def order_document(c: ExportClearance) -> dict[str, Any]:
    """CEB303: the export order (9610), the B2B order (9710) or the overseas-warehouse booking (9810)."""
    name, _model, _hs, unit, price = c.goods
    head = {**_head("order", c.order_no), "orderType": ORDER_TYPES[c.trade_mode], "orderNo": c.order_no,
            "ebpCode": PLATFORM if c.trade_mode != "9810" else "无", "ebpName": PLATFORM_NAME,
            "ebcCode": SELLER, "ebcName": SELLER_NAME, "goodsValue": f"{c.total}", "freight": "0",
            "currency": "502"}
    line = {"gnum": "1", "itemNo": f"SKU-E{c.n:03d}", "itemName": name, "unit": unit, "currency": "502",
            "qty": f"{c.qty}", "price": price, "totalPrice": f"{c.total}"}
    return {"OrderHead": head, "OrderList": [line]}


def collection_document(c: ExportClearance) -> dict[str, Any]:
    """CEB403 收款单: the seller received the buyer's payment."""
    return {**_head("collection", c.order_no), "ebpCode": PLATFORM, "ebpName": PLATFORM_NAME, "ebcCode": SELLER,
            "ebcName": SELLER_NAME, "orderNo": c.order_no, "payCode": PAYMENT_COMPANY, "payName": PAYMENT_NAME,
            "payNo": f"PAYE{c.n:08d}", "charge": f"{c.total}", "currency": "502", "accountingDate": APP_TIME}


def waybill_document(c: ExportClearance) -> dict[str, Any]:
    """CEB505: the export waybill (its command names the order: ``orderNo``)."""
    return {**_head("waybill", c.order_no), "logisticsCode": LOGISTICS_COMPANY, "logisticsName": LOGISTICS_NAME,
            "logisticsNo": c.logistics_no, "freight": "0", "insuredFee": "0", "currency": "502",
            "grossWeight": f"{c.qty / 2}", "packNo": "1", "goodsInfo": c.goods[0], "ebcCode": SELLER,
            "ebcName": SELLER_NAME}


def inventory_document(c: ExportClearance) -> dict[str, Any]:
    """CEB603: the export list in the clearance's trade mode (statisticsFlag B: summarised later)."""
    name, model, hs, unit, price = c.goods
    head = {**_head("inventory", c.order_no), "customsCode": CUSTOMS_CODE, "ebpCode": PLATFORM,
            "ebpName": PLATFORM_NAME,
            "orderNo": c.order_no, "logisticsCode": LOGISTICS_COMPANY, "logisticsName": LOGISTICS_NAME,
            "logisticsNo": c.logistics_no, "copNo": c.cop_no, "ieFlag": "E", "portCode": PORT, "ieDate": "20261201",
            "statisticsFlag": "B", "agentCode": DECLARANT, "agentName": DECLARANT_NAME, "ebcCode": SELLER,
            "ebcName": SELLER_NAME, "ownerCode": SELLER, "ownerName": SELLER_NAME, "tradeMode": c.trade_mode,
            "trafMode": "5", "trafName": "AIR", "voyageNo": VOYAGE, "billNo": BILL_NO, "country": "502",
            "POD": "502", "freight": "0", "fCurrency": "502", "fFlag": "3", "insuredFee": "0", "iCurrency": "502",
            "iFlag": "3", "wrapType": "2", "packNo": "1", "grossWeight": f"{c.qty / 2}",
            "netWeight": f"{c.qty / 2 - Decimal('0.1')}"}
    line = {"gnum": "1", "itemNo": f"SKU-E{c.n:03d}", "itemName": name, "gcode": hs, "gname": name, "gmodel": model,
            "barCode": "无", "country": "502", "currency": "502", "qty": f"{c.qty}", "qty1": f"{c.qty / 2}",
            "unit": unit, "unit1": "035", "price": price, "totalPrice": f"{c.total}"}
    return {"InventoryHead": head, "InventoryList": [line]}


def arrival_document(clearances: list[ExportClearance], cop_no: str) -> dict[str, Any]:
    """CEB507 运抵单: the goods of these waybills arrived at the supervision site."""
    head = {**_head("arrival", cop_no), "customsCode": CUSTOMS_CODE, "copNo": cop_no,
            "operatorCode": SITE_OPERATOR, "operatorName": SITE_OPERATOR_NAME, "ieFlag": "E", "trafMode": "5",
            "billNo": BILL_NO, "domesticTrafNo": "沪A12345", "logisticsCode": LOGISTICS_COMPANY,
            "logisticsName": LOGISTICS_NAME, "msgCount": "1", "msgSeqNo": "1"}
    lines = [{"gnum": str(i), "logisticsNo": c.logistics_no} for i, c in enumerate(clearances, 1)]
    return {"ArrivalHead": head, "ArrivalList": lines}


def departure_document(clearances: list[ExportClearance], cop_no: str) -> dict[str, Any]:
    """CEB509 离境单: the goods of these waybills left the country."""
    head = {**_head("departure", cop_no), "customsCode": CUSTOMS_CODE, "copNo": cop_no,
            "logisticsCode": LOGISTICS_COMPANY, "logisticsName": LOGISTICS_NAME, "trafMode": "5", "trafName": "AIR",
            "voyageNo": VOYAGE, "billNo": BILL_NO, "leaveTime": "20261202080000", "msgCount": "1", "msgSeqNo": "1"}
    lines = [{"gnum": str(i), "logisticsNo": c.logistics_no} for i, c in enumerate(clearances, 1)]
    return {"DepartureHead": head, "DepartureList": lines}


def master_bill_document(lists: list[tuple[ExportClearance, str]], cop_no: str) -> dict[str, Any]:
    """CEB607 清单总分单: these lists (with the invtNo customs gave each) bound to the master bill."""
    head = {**_head("waybill-master", cop_no), "customsCode": CUSTOMS_CODE, "copNo": cop_no,
            "agentCode": DECLARANT, "agentName": DECLARANT_NAME, "trafMode": "5", "trafName": "AIR",
            "voyageNo": VOYAGE, "billNo": BILL_NO, "grossWeight": f"{sum(c.qty / 2 for c, _ in lists)}",
            "logisticsCode": LOGISTICS_COMPANY, "logisticsName": LOGISTICS_NAME, "msgCount": "1", "msgSeqNo": "1"}
    lines = [{"gnum": str(i), "logisticsNo": c.logistics_no, "invtNo": invt_no}
             for i, (c, invt_no) in enumerate(lists, 1)]
    return {"WayBillHead": head, "WayBillList": lines}


def cancel_document(c: ExportClearance, invt_no: str) -> dict[str, Any]:
    """CEB605: cancel the clearance's list."""
    return {**_head("cancel", c.order_no), "customsCode": CUSTOMS_CODE, "copNo": c.cop_no, "invtNo": invt_no,
            "reason": "买家取消订单", "agentCode": DECLARANT, "agentName": DECLARANT_NAME, "ebcCode": SELLER,
            "ebcName": SELLER_NAME}


def return_document(c: ExportClearance, invt_no: str) -> dict[str, Any]:
    """CEB213 退货申请单: the goods of a departed list come back (公告2020年第44号)."""
    name, model, hs, unit, _price = c.goods
    head = {**_head("return", c.order_no), "customsCode": CUSTOMS_CODE, "ebpCode": PLATFORM,
            "ebpName": PLATFORM_NAME,
            "ebcCode": SELLER, "ebcName": SELLER_NAME, "logisticsNo": c.logistics_no,
            "logisticsCode": LOGISTICS_COMPANY, "logisticsName": LOGISTICS_NAME, "coElNo": f"RT{c.cop_no}",
            "invtNo": invt_no, "tradeMode": c.trade_mode, "agentCode": DECLARANT, "agentName": DECLARANT_NAME,
            "billNo": BILL_NO, "ieFlag": "I", "trafMode": "5", "trafName": "AIR", "portCode": PORT,
            "reason": "买家退货", "country": "502", "voyageNo": VOYAGE}
    line = {"gnum": "1", "gcode": hs, "gname": name, "gmodel": model, "qty": f"{c.qty}", "qty1": f"{c.qty / 2}",
            "unit": unit, "unit1": "035"}
    return {"InvtRefundHead": head, "InvtRefundList": [line]}


def tally_document(c: ExportClearance, invt_no: str) -> dict[str, Any]:
    """CEB215 退运理货明细单: the returned goods tallied at the supervision site."""
    return {**_head("tally", c.order_no), "customsCode": CUSTOMS_CODE, "operatorCode": SITE_OPERATOR,
            "operatorName": SITE_OPERATOR_NAME, "logisticsCode": LOGISTICS_COMPANY, "logisticsName": LOGISTICS_NAME,
            "logisticsNo": c.logistics_no, "invtNo": invt_no, "coElNo": f"RT{c.cop_no}", "billNo": BILL_NO,
            "ieFlag": "I", "trafMode": "5", "trafName": "AIR", "voyageNo": VOYAGE}


def summary_document(invt_nos: list[str], cop_no: str, *, summary_flag: str = "1", item_name_flag: str = "1",
                     start: str = "20261201000000", end: str = "20261231235959") -> dict[str, Any]:
    """CEB701 汇总申请单 of the seller's released lists (see :func:`cbec_cli.summary.compose`)."""
    head = {**_head("summary", cop_no), "customsCode": CUSTOMS_CODE, "copNo": cop_no, "agentCode": DECLARANT,
            "agentName": DECLARANT_NAME, "ebcCode": SELLER, "ebcName": SELLER_NAME, "declAgentCode": DECLARANT,
            "declAgentName": DECLARANT_NAME, "startTime": start, "endTime": end, "summaryFlag": summary_flag,
            "itemNameFlag": item_name_flag, "msgCount": "1", "msgSeqNo": "1"}
    return {"SummaryApplyHead": head, "SummaryApplyList": [{"invtNo": n} for n in invt_nos]}
