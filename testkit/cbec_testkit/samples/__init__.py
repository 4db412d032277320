"""Generated, realistic-looking import documents for the demo, benchmarks and tests (all data is fictitious;
the parties are :mod:`cbec_testkit.samples.parties`, the demo tenants). :mod:`cbec_testkit.samples.messages`
builds whole CEB messages of one small consistent set for the codec and rule tests."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from cbec.contracts.commands import DeclareDocument

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

__all__ = [
    "CUSTOMS_CODE", "DECLARANT", "DECLARANT_NAME", "LOGISTICS_COMPANY", "LOGISTICS_NAME", "PAYMENT_COMPANY",
    "PAYMENT_NAME", "PLATFORM", "PLATFORM_NAME", "SITE_OPERATOR", "SITE_OPERATOR_NAME",
    "cancel_document", "declare_clearance", "declare_orders", "entry_document", "inventory_document",
    "logistics_no", "order_document", "payment_document", "return_document", "waybill_document",
    "waybill_status_document",
]

_GOODS = [
    ("婴儿配方奶粉", "900g/罐 1段", "122", "601"),
    ("保湿面霜", "50ml/瓶", "142", "116"),
    ("维生素C咀嚼片", "120片/瓶", "142", "502"),
    ("电动牙刷", "1支/盒 充电式", "139", "304"),
    ("蜂蜜", "500g/瓶 麦卢卡", "142", "609"),
    ("运动鞋", "42码/双", "011", "110"),
]
# HS code, legal first unit and how many of it one item weighs or counts (for the list's gcode/qty1/unit1).
_TARIFF: dict[str, tuple[str, str, Decimal]] = {
    "婴儿配方奶粉": ("1901101000", "035", Decimal("0.9")),
    "保湿面霜": ("3304990099", "035", Decimal("0.05")),
    "维生素C咀嚼片": ("2106909090", "035", Decimal("0.12")),
    "电动牙刷": ("8509800090", "011", Decimal("1")),
    "蜂蜜": ("0409000000", "035", Decimal("0.5")),
    "运动鞋": ("6404110090", "025", Decimal("1")),
}
_SURNAMES = "王李张刘陈杨赵黄周吴"
_CITIES = ["上海市浦东新区", "北京市朝阳区", "广州市天河区", "杭州市西湖区", "长沙市岳麓区", "海口市龙华区"]


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def order_document(n: int, rng: random.Random, *, lines: int | None = None) -> dict[str, Any]:
    """One CEB311 order document (head + lines) numbered ``n``; the platform fills guid/appTime."""
    count = lines or rng.randint(1, 3)
    items: list[dict[str, str]] = []
    for gnum in range(1, count + 1):
        name, model, unit, country = rng.choice(_GOODS)
        qty = Decimal(rng.randint(1, 3))
        price = Decimal(rng.randint(3000, 40000)) / 100
        items.append(
            {
                "gnum": str(gnum),
                "itemNo": f"SKU{rng.randint(10000, 99999)}",
                "itemName": name,
                "gmodel": model,
                "unit": unit,
                "qty": str(qty),
                "price": _money(price),
                "totalPrice": _money(price * qty),
                "currency": "142",
                "country": country,
            }
        )
    goods = sum((Decimal(i["totalPrice"]) for i in items), Decimal(0))
    freight = Decimal(rng.choice([0, 0, 8, 12]))
    tax = (goods * Decimal("0.091")).quantize(Decimal("0.01"))
    surname = rng.choice(_SURNAMES)
    city = rng.choice(_CITIES)
    head = {
        "orderType": "I",
        "orderNo": f"DEMO{n:08d}",
        "ebpCode": PLATFORM,
        "ebpName": PLATFORM_NAME,
        "ebcCode": PLATFORM,
        "ebcName": PLATFORM_NAME,
        "goodsValue": _money(goods),
        "freight": _money(freight),
        "discount": "0",
        "taxTotal": _money(tax),
        "acturalPaid": _money(goods + freight + tax),
        "currency": "142",
        "buyerRegNo": f"user{rng.randint(100000, 999999)}",
        "buyerName": surname + "某某",
        "buyerTelephone": f"139{rng.randint(10000000, 99999999)}",
        "buyerIdType": "1",
        "buyerIdNumber": f"310101{rng.randint(1960, 2004)}0101{rng.randint(1000, 9999)}",
        "payCode": PAYMENT_COMPANY,
        "payName": PAYMENT_NAME,
        "payTransactionId": f"PAY{n:010d}",
        "consignee": surname + "某某",
        "consigneeTelephone": f"139{rng.randint(10000000, 99999999)}",
        "consigneeAddress": f"{city}示例路{rng.randint(1, 999)}号",
    }
    return {"OrderHead": head, "OrderList": items}


def declare_orders(count: int, *, seed: int = 2026, start: int = 1) -> list[DeclareDocument]:
    rng = random.Random(seed)
    return [
        DeclareDocument(
            command_id=f"cmd-order-{n}", sender=PLATFORM, doc_type="CEB311", document=order_document(n, rng)
        )
        for n in range(start, start + count)
    ]


def payment_document(order: dict[str, Any], *, pay_time: str = "20261124100000") -> dict[str, Any]:
    """The CEB411 paying exactly the order's acturalPaid (same payer as the buyer)."""
    o = order["OrderHead"]
    head = {
        "payCode": o["payCode"],
        "payName": o["payName"],
        "payTransactionId": o["payTransactionId"],
        "orderNo": o["orderNo"],
        "ebpCode": o["ebpCode"],
        "ebpName": o["ebpName"],
        "payerIdType": "1",
        "payerIdNumber": o["buyerIdNumber"],
        "payerName": o["buyerName"],
        "amountPaid": o["acturalPaid"],
        "currency": "142",
        "payTime": pay_time,
    }
    return {"PaymentHead": head}


def logistics_no(order: dict[str, Any]) -> str:
    return "LN" + str(order["OrderHead"]["orderNo"])


def waybill_document(order: dict[str, Any]) -> dict[str, Any]:
    """The CEB511 carrying the order to its consignee (declare it with ``ebpCode`` of the order)."""
    o = order["OrderHead"]
    head = {
        "logisticsCode": LOGISTICS_COMPANY,
        "logisticsName": LOGISTICS_NAME,
        "logisticsNo": logistics_no(order),
        "billNo": "BILL20261124",
        "orderNo": o["orderNo"],
        "freight": o["freight"],
        "insuredFee": "0",
        "currency": "142",
        "weight": "1.5",
        "packNo": "1",
        "consignee": o["consignee"],
        "consigneeAddress": o["consigneeAddress"],
        "consigneeTelephone": o["consigneeTelephone"],
    }
    return {"LogisticsHead": head}


def waybill_status_document(waybill: dict[str, Any], *, at: str = "20261126100000") -> dict[str, Any]:
    """The CEB513 signed-for status of a waybill."""
    w = waybill["LogisticsHead"]
    return {
        "logisticsCode": w["logisticsCode"],
        "logisticsName": w["logisticsName"],
        "logisticsNo": w["logisticsNo"],
        "logisticsStatus": "S",
        "logisticsTime": at,
    }


def inventory_document(
    order: dict[str, Any], *, agent: str = DECLARANT, agent_name: str = DECLARANT_NAME, trade_mode: str = "9610"
) -> dict[str, Any]:
    """The CEB621 list of the order, line for line, declared by ``agent`` (the warehouse by default)."""
    o = order["OrderHead"]
    head = {
        "orderNo": o["orderNo"],
        "ebpCode": o["ebpCode"],
        "ebpName": o["ebpName"],
        "ebcCode": o["ebcCode"],
        "ebcName": o["ebcName"],
        "logisticsNo": logistics_no(order),
        "logisticsCode": LOGISTICS_COMPANY,
        "logisticsName": LOGISTICS_NAME,
        "copNo": "C" + o["orderNo"],
        "assureCode": o["ebcCode"],
        "ieFlag": "I",
        "declTime": "20261124",
        "customsCode": CUSTOMS_CODE,
        "portCode": CUSTOMS_CODE,
        "buyerIdType": "1",
        "buyerIdNumber": o["buyerIdNumber"],
        "buyerName": o["buyerName"],
        "buyerTelephone": o["buyerTelephone"],
        "consigneeAddress": o["consigneeAddress"],
        "agentCode": agent,
        "agentName": agent_name,
        "tradeMode": trade_mode,
        "trafMode": "5",
        "country": "142" if trade_mode == "1210" else "116",
        "freight": o["freight"],
        "insuredFee": "0",
        "currency": "142",
        "packNo": "1",
        "grossWeight": "1.5",
        "netWeight": "1.2",
    }
    if trade_mode == "1210":
        head.update(emsNo="T5165W000001", areaCode=DECLARANT, areaName=DECLARANT_NAME)
    else:
        head.update(trafNo="CA1234", voyageNo="20261124", billNo="BILL20261124")
    lines = []
    for line in order["OrderList"]:
        gcode, unit1, per_item = _TARIFF.get(line["itemName"], ("3304990099", "035", Decimal("1")))
        item = {
            "gnum": line["gnum"],
            "itemNo": line["itemNo"],
            "itemName": line["itemName"],
            "gcode": gcode,
            "gname": line["itemName"],
            "gmodel": line["gmodel"],
            "country": line["country"],
            "currency": "142",
            "qty": line["qty"],
            "unit": line["unit"],
            "qty1": f"{(Decimal(line['qty']) * per_item).normalize():f}",
            "unit1": unit1,
            "price": line["price"],
            "totalPrice": line["totalPrice"],
        }
        if trade_mode == "1210":
            item["itemRecordNo"] = "REC" + line["itemNo"]
        lines.append(item)
    return {"InventoryHead": head, "InventoryList": lines}


def entry_document(waybills: list[dict[str, Any]], cop_no: str) -> dict[str, Any]:
    """The CEB711 entry list of the waybills that arrived at the site operator's premises."""
    head = {
        "customsCode": CUSTOMS_CODE,
        "copNo": cop_no,
        "operatorCode": SITE_OPERATOR,
        "operatorName": SITE_OPERATOR_NAME,
        "ieFlag": "I",
        "trafMode": "5",
        "trafNo": "CA1234",
        "voyageNo": "20261124",
        "billNo": "BILL20261124",
        "logisticsCode": LOGISTICS_COMPANY,
        "logisticsName": LOGISTICS_NAME,
    }
    lines = [{"gnum": str(i), "logisticsNo": w["LogisticsHead"]["logisticsNo"]} for i, w in enumerate(waybills, 1)]
    return {"DeliveryHead": head, "DeliveryList": lines}


def _after_list_head(inventory: dict[str, Any], invt_no: str, cop_no: str, reason: str) -> dict[str, Any]:
    h = inventory["InventoryHead"]
    return {
        "customsCode": h["customsCode"],
        "orderNo": h["orderNo"],
        "ebpCode": h["ebpCode"],
        "ebpName": h["ebpName"],
        "ebcCode": h["ebcCode"],
        "ebcName": h["ebcName"],
        "logisticsNo": h["logisticsNo"],
        "logisticsCode": h["logisticsCode"],
        "logisticsName": h["logisticsName"],
        "copNo": cop_no,
        "invtNo": invt_no,
        "buyerIdType": "1",
        "buyerIdNumber": h["buyerIdNumber"],
        "buyerName": h["buyerName"],
        "buyerTelephone": h["buyerTelephone"],
        "agentCode": h["agentCode"],
        "agentName": h["agentName"],
        "reason": reason,
    }


def cancel_document(inventory: dict[str, Any], invt_no: str) -> dict[str, Any]:
    """The CEB623 cancelling the released list ``invt_no``."""
    return _after_list_head(inventory, invt_no, "X" + inventory["InventoryHead"]["copNo"], "买家取消")


def return_document(inventory: dict[str, Any], invt_no: str, *, qty: str = "1") -> dict[str, Any]:
    """The CEB625 returning ``qty`` of the list's first line."""
    line = inventory["InventoryList"][0]
    head = _after_list_head(inventory, invt_no, "R" + inventory["InventoryHead"]["copNo"], "商品退货")
    item = {"gnum": line["gnum"], "gcode": line["gcode"], "gname": line["gname"], "qty": qty, "unit": line["unit"]}
    return {"InvtRefundHead": head, "InvtRefundList": [item]}


def declare_clearance(n: int, *, seed: int = 2026, trade_mode: str = "9610") -> list[DeclareDocument]:
    """Order, payment, waybill and list of one clearance, each from its own enterprise."""
    order = order_document(n, random.Random(seed + n))
    ebp = order["OrderHead"]["ebpCode"]
    return [
        DeclareDocument(f"cmd-order-{n}", PLATFORM, "CEB311", order),
        DeclareDocument(f"cmd-payment-{n}", PAYMENT_COMPANY, "CEB411", payment_document(order)),
        DeclareDocument(f"cmd-waybill-{n}", LOGISTICS_COMPANY, "CEB511", waybill_document(order), ebp),
        DeclareDocument(f"cmd-list-{n}", DECLARANT, "CEB621", inventory_document(order, trade_mode=trade_mode)),
    ]
