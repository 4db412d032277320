"""Small, consistent, XSD-valid example messages (one 9610 import set) for tests, demos and benchmarks.

All parties and persons are fictitious: the enterprises are :mod:`cbec_testkit.samples.parties`.
The order, payment, waybill and list agree with each other
so that the cross-document business rules pass; tests mutate copies to break one rule at a time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cbec.ceb.model import CebMessage

from cbec_testkit.samples import parties

GUID = "4CDE1CFD-EDED-46B1-946C-B8022E42FC94"
EBP = parties.PLATFORM
EBC = parties.PLATFORM  # the platform sells on its own account
PAY = parties.PAYMENT_COMPANY
LOGISTICS = parties.LOGISTICS_COMPANY
AGENT = EBC
ORDER_NO = "ORDER-2024-0001"
LOGISTICS_NO = "LN2024000000001"

BASE_TRANSFER = {
    "copCode": EBC,
    "copName": parties.PLATFORM_NAME,
    "dxpMode": "DXP",
    "dxpId": parties.dxp_id(EBC),
}


def _guid(n: int) -> str:
    return f"{GUID[:-4]}{n:04d}"


def order_line(gnum: int, *, price: str = "20", qty: str = "2") -> dict[str, str]:
    return {
        "gnum": str(gnum),
        "itemNo": f"SKU-{gnum:03d}",
        "itemName": f"示例商品{gnum}",
        "gmodel": "100ml/瓶",
        "barCode": "6901234567892",
        "unit": "142",
        "qty": qty,
        "price": price,
        "totalPrice": str(Decimal(price) * Decimal(qty)),
        "currency": "142",
        "country": "116",
    }


def order_doc(lines: int = 1, *, order_no: str = ORDER_NO, freight: str = "10", tax: str = "0") -> dict[str, Any]:
    items = [order_line(i) for i in range(1, lines + 1)]
    goods = sum((Decimal(x["totalPrice"]) for x in items), Decimal(0))
    paid = goods + Decimal(freight) + Decimal(tax)
    head = {
        "guid": _guid(1),
        "appType": "1",
        "appTime": "20240301120000",
        "appStatus": "2",
        "orderType": "I",
        "orderNo": order_no,
        "ebpCode": EBP,
        "ebpName": parties.PLATFORM_NAME,
        "ebcCode": EBC,
        "ebcName": parties.PLATFORM_NAME,
        "goodsValue": str(goods),
        "freight": freight,
        "discount": "0",
        "taxTotal": tax,
        "acturalPaid": str(paid),
        "currency": "142",
        "buyerRegNo": "buyer-0001",
        "buyerName": "测试买家",
        "buyerTelephone": "13800000000",
        "buyerIdType": "1",
        "buyerIdNumber": "110101199001010000",
        "payCode": PAY,
        "payName": parties.PAYMENT_NAME,
        "payTransactionId": "PAY2024030100001",
        "consignee": "测试收货人",
        "consigneeTelephone": "13800000001",
        "consigneeAddress": "北京市朝阳区示例路1号",
    }
    return {"OrderHead": head, "OrderList": items}


def order_message(lines: int = 1, docs: int = 1) -> CebMessage:
    """A CEB311 with ``docs`` orders of ``lines`` lines each."""
    orders = [order_doc(lines, order_no=f"{ORDER_NO}-{d}" if docs > 1 else ORDER_NO) for d in range(docs)]
    return CebMessage(type="CEB311", docs=orders, guid=GUID, base_transfer=dict(BASE_TRANSFER))


def order_receipt(return_status: str = "2") -> CebMessage:
    """A CEB312 answering :func:`order_message`."""
    ret = {
        "guid": _guid(9),
        "ebpCode": EBP,
        "ebcCode": EBC,
        "orderNo": ORDER_NO,
        "returnStatus": return_status,
        "returnTime": "20240301120005123",
        "returnInfo": f"新增申报成功[{_guid(1)}]",
    }
    return CebMessage(type="CEB312", docs=[ret], guid=_guid(8))


def payment_message(order: dict[str, Any] | None = None) -> CebMessage:
    """A CEB411 paying exactly the order's acturalPaid."""
    head_o = (order or order_doc())["OrderHead"]
    head = {
        "guid": _guid(2),
        "appType": "1",
        "appTime": "20240301120100",
        "appStatus": "2",
        "payCode": PAY,
        "payName": parties.PAYMENT_NAME,
        "payTransactionId": head_o["payTransactionId"],
        "orderNo": head_o["orderNo"],
        "ebpCode": EBP,
        "ebpName": head_o["ebpName"],
        "payerIdType": "1",
        "payerIdNumber": head_o["buyerIdNumber"],
        "payerName": head_o["buyerName"],
        "amountPaid": head_o["acturalPaid"],
        "currency": "142",
        "payTime": "20240301115900",
    }
    return CebMessage(type="CEB411", docs=[{"PaymentHead": head}], guid=_guid(12), base_transfer=dict(BASE_TRANSFER))


def logistics_message(order: dict[str, Any] | None = None) -> CebMessage:
    """A CEB511 delivering to the order's consignee."""
    head_o = (order or order_doc())["OrderHead"]
    head = {
        "guid": _guid(3),
        "appType": "1",
        "appTime": "20240301120200",
        "appStatus": "2",
        "logisticsCode": LOGISTICS,
        "logisticsName": parties.LOGISTICS_NAME,
        "logisticsNo": LOGISTICS_NO,
        "billNo": "BILL0001",
        "orderNo": head_o["orderNo"],
        "freight": head_o["freight"],
        "insuredFee": "0",
        "currency": "142",
        "weight": "1.5",
        "packNo": "1",
        "consignee": head_o["consignee"],
        "consigneeAddress": head_o["consigneeAddress"],
        "consigneeTelephone": head_o["consigneeTelephone"],
    }
    return CebMessage(type="CEB511", docs=[{"LogisticsHead": head}], guid=_guid(13), base_transfer=dict(BASE_TRANSFER))


def inventory_doc(order: dict[str, Any] | None = None, *, lines: int | None = None) -> dict[str, Any]:
    """A 9610 direct-purchase list (清单) matching the order line for line."""
    order = order or order_doc(lines or 1)
    head_o = order["OrderHead"]
    head = {
        "guid": _guid(4),
        "appType": "1",
        "appTime": "20240301120300",
        "appStatus": "2",
        "orderNo": head_o["orderNo"],
        "ebpCode": EBP,
        "ebpName": head_o["ebpName"],
        "ebcCode": EBC,
        "ebcName": head_o["ebcName"],
        "logisticsNo": LOGISTICS_NO,
        "logisticsCode": LOGISTICS,
        "logisticsName": parties.LOGISTICS_NAME,
        "copNo": "COP2024030100001",
        "assureCode": EBC,
        "ieFlag": "I",
        "declTime": "20240301",
        "customsCode": "5165",
        "portCode": "5165",
        "buyerIdType": "1",
        "buyerIdNumber": head_o["buyerIdNumber"],
        "buyerName": head_o["buyerName"],
        "buyerTelephone": head_o["buyerTelephone"],
        "consigneeAddress": head_o["consigneeAddress"],
        "agentCode": AGENT,
        "agentName": head_o["ebcName"],
        "tradeMode": "9610",
        "trafMode": "5",
        "trafNo": "CA1234",
        "voyageNo": "20240301",
        "billNo": "BILL0001",
        "country": "116",
        "freight": head_o["freight"],
        "insuredFee": "0",
        "currency": "142",
        "packNo": "1",
        "grossWeight": "1.5",
        "netWeight": "1.2",
    }
    items = []
    for line in order["OrderList"]:
        items.append(
            {
                "gnum": line["gnum"],
                "itemNo": line["itemNo"],
                "itemName": line["itemName"],
                "gcode": "3304990099",
                "gname": line["itemName"],
                "gmodel": line["gmodel"],
                "barCode": line["barCode"],
                "country": line["country"],
                "currency": "142",
                "qty": line["qty"],
                "unit": line["unit"],
                "qty1": "0.2",
                "unit1": "035",
                "price": line["price"],
                "totalPrice": line["totalPrice"],
            }
        )
    return {"InventoryHead": head, "InventoryList": items}


def inventory_message(lines: int = 1, docs: int = 1, *, signature: bytes | None = None) -> CebMessage:
    """A CEB621; pass ``signature`` (a ds:Signature element) for an XSD-valid message."""
    invs = [inventory_doc(lines=lines) for _ in range(docs)]
    return CebMessage(type="CEB621", docs=invs, guid=_guid(14), base_transfer=dict(BASE_TRANSFER), signature=signature)


PLACEHOLDER_SIGNATURE = (
    b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    b'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
    b'<ds:SignatureMethod Algorithm="http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"/>'
    b'<ds:Reference URI=""><ds:Transforms>'
    b'<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms>'
    b'<ds:DigestMethod Algorithm="http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"/>'
    b"<ds:DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</ds:DigestValue></ds:Reference>"
    b"</ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue>"
    b"<ds:KeyInfo><ds:KeyName>0001</ds:KeyName></ds:KeyInfo></ds:Signature>"
)
"""A structurally valid but unverifiable ds:Signature (for schema tests only)."""


INVT_NO = "516520241000000001"


def _cancel_head(kind: str) -> dict[str, str]:
    inv = inventory_doc()["InventoryHead"]
    return {
        "guid": _guid(5), "appType": "1", "appTime": "20240305120000", "appStatus": "2",
        "customsCode": inv["customsCode"], "orderNo": inv["orderNo"], "ebpCode": EBP,
        "ebpName": inv["ebpName"],
        "ebcCode": EBC, "ebcName": inv["ebcName"], "logisticsNo": LOGISTICS_NO, "logisticsCode": LOGISTICS,
        "logisticsName": inv["logisticsName"], "copNo": "COP2024030500001", "invtNo": INVT_NO,
        "buyerIdType": "1", "buyerIdNumber": inv["buyerIdNumber"], "buyerName": inv["buyerName"],
        "buyerTelephone": inv["buyerTelephone"], "agentCode": AGENT, "agentName": inv["agentName"],
        "reason": "买家取消" if kind == "cancel" else "商品退货",
    }  # fmt: skip


def cancel_message(*, signature: bytes | None = PLACEHOLDER_SIGNATURE) -> CebMessage:
    """A CEB623 cancelling the released list :data:`INVT_NO`."""
    return CebMessage(type="CEB623", docs=[_cancel_head("cancel")], guid=_guid(15),
                      base_transfer=dict(BASE_TRANSFER), signature=signature)  # fmt: skip


def refund_message(*, signature: bytes | None = PLACEHOLDER_SIGNATURE) -> CebMessage:
    """A CEB625 returning one unit of line 1 of the list :data:`INVT_NO`."""
    line = inventory_doc()["InventoryList"][0]
    items = [{"gnum": "1", "gcode": line["gcode"], "gname": line["gname"], "qty": "1", "unit": line["unit"]}]
    doc = {"InvtRefundHead": _cancel_head("refund"), "InvtRefundList": items}
    return CebMessage(type="CEB625", docs=[doc], guid=_guid(16), base_transfer=dict(BASE_TRANSFER),
                      signature=signature)  # fmt: skip


def released_inventory() -> dict[str, Any]:
    """The list of :func:`inventory_doc` as customs released it (with its invtNo)."""
    doc = inventory_doc()
    doc["InventoryHead"]["invtNo"] = INVT_NO
    return doc
