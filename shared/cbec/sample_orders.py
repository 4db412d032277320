"""Generated, realistic-looking import orders for the demo, benchmarks and tests (all data is fictitious)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from cbec.contracts.commands import DeclareDocument

PLATFORM = "3105960001"
PLATFORM_NAME = "示例跨境电商平台有限公司"
PAYMENT_COMPANY = "3105960002"

_GOODS = [
    ("婴儿配方奶粉", "900g/罐 1段", "122", "601"),
    ("保湿面霜", "50ml/瓶", "142", "116"),
    ("维生素C咀嚼片", "120片/瓶", "142", "502"),
    ("电动牙刷", "1支/盒 充电式", "139", "304"),
    ("蜂蜜", "500g/瓶 麦卢卡", "142", "609"),
    ("运动鞋", "42码/双", "011", "110"),
]
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
        "payName": "示例支付有限公司",
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
