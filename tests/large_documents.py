"""A schema-valid CEB311 order of 99 lines with every text field at its maximum length: about 843 KB of
document, a sign request of about 1.15 MB (above Kafka's default 1 MB)."""

from __future__ import annotations

import random

from cbec.contracts.commands import DeclareDocument
from cbec_testkit.samples import PLATFORM, order_document


def largest_order(n: int) -> DeclareDocument:
    document = order_document(n, random.Random(n), lines=99)
    for line in document["OrderList"]:
        line["itemName"] = "跨境电商进口商品名称" * 25  # 250 characters
        line["gmodel"] = "品名牌名规格型号成份含量等级" * 36 + "品名牌名规格型"  # 511 → cut below
        line["gmodel"] = line["gmodel"][:510]
        line["itemDescribe"] = "商品描述信息" * 166 + "商品描述"  # 1000 characters
        line["note"] = "促销活动说明文字" * 125  # 1000 characters
        line.update(qty="1", price="0.50", totalPrice="0.50")  # within the single-transaction limit
    document["OrderHead"].update(goodsValue="49.50", freight="0", discount="0", taxTotal="4.50",
                                 acturalPaid="54.00")
    return DeclareDocument(f"cmd-large-order-{n}", PLATFORM, "CEB311", document)
