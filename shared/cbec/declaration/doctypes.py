"""What the platform needs to know about each declaration type: nodes, keys, receipts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

# Fixed namespace so the same business key always maps to the same stream id.
STREAM_NAMESPACE = uuid.UUID("6f1c5a52-5a0e-4b5e-9d55-2b0f0c1e7a11")


@dataclass(frozen=True, slots=True)
class DocType:
    """One declaration message type and how its documents and receipts are identified."""

    code: str  # "CEB311"
    kind: str  # "order", used in stream names and topics
    node: str  # "Order"
    head: str | None  # "OrderHead"; None for flat nodes
    lines: str | None  # "OrderList"
    receipt_code: str  # "CEB312"
    return_node: str  # "OrderReturn"
    key_fields: tuple[str, ...]  # fields of the head that identify a document
    receipt_key_fields: tuple[str, ...]  # the same identity as named in the receipt node
    service: str  # owning service
    concluded_later: bool = False  # customs answers again after accepting (399, 800 …): lists, cancels, returns

    def head_of(self, document: dict[str, Any]) -> dict[str, Any]:
        head = document[self.head] if self.head else document
        assert isinstance(head, dict)
        return head

    def business_key(self, document: dict[str, Any]) -> tuple[str, ...]:
        head = self.head_of(document)
        return tuple(str(head.get(f, "")) for f in self.key_fields)

    def receipt_key(self, return_node: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(return_node.get(f, "")) for f in self.receipt_key_fields)

    def stream_name(self, key: tuple[str, ...]) -> str:
        return f"{self.kind}:" + ":".join(key)

    def stream_id(self, key: tuple[str, ...]) -> uuid.UUID:
        return uuid.uuid5(STREAM_NAMESPACE, self.stream_name(key))


ORDER = DocType(
    "CEB311",
    "order",
    "Order",
    "OrderHead",
    "OrderList",
    "CEB312",
    "OrderReturn",
    ("ebpCode", "orderNo"),
    ("ebpCode", "orderNo"),
    "order",
)
PAYMENT = DocType(
    "CEB411",
    "payment",
    "Payment",
    "PaymentHead",
    None,
    "CEB412",
    "PaymentReturn",
    ("payCode", "payTransactionId"),
    ("payCode", "payTransactionId"),
    "payment",
)
WAYBILL = DocType(
    "CEB511",
    "waybill",
    "Logistics",
    "LogisticsHead",
    None,
    "CEB512",
    "LogisticsReturn",
    ("logisticsCode", "logisticsNo"),
    ("logisticsCode", "logisticsNo"),
    "logistics",
)
WAYBILL_STATUS = DocType(
    "CEB513",
    "waybill-status",
    "LogisticsStatus",
    None,
    None,
    "CEB514",
    "LogisticsStatusReturn",
    ("logisticsCode", "logisticsNo", "logisticsStatus"),
    ("logisticsCode", "logisticsNo", "logisticsStatus"),
    "logistics",
)
INVENTORY = DocType(
    "CEB621",
    "inventory",
    "Inventory",
    "InventoryHead",
    "InventoryList",
    "CEB622",
    "InventoryReturn",
    ("agentCode", "copNo"),
    ("agentCode", "copNo"),
    "inventory",
    concluded_later=True,
)
CANCEL = DocType(
    "CEB623",
    "cancel",
    "InvtCancel",
    None,
    None,
    "CEB624",
    "InvtCancelReturn",
    ("agentCode", "copNo"),
    ("agentCode", "copNo"),
    "inventory",
    concluded_later=True,
)
RETURN = DocType(
    "CEB625",
    "return",
    "InvtRefund",
    "InvtRefundHead",
    "InvtRefundList",
    "CEB626",
    "InvtRefundReturn",
    ("agentCode", "copNo"),
    ("agentCode", "copNo"),
    "inventory",
    concluded_later=True,
)
ENTRY = DocType(
    "CEB711",
    "entry",
    "Delivery",
    "DeliveryHead",
    "DeliveryList",
    "CEB712",
    "DeliveryReturn",
    ("operatorCode", "copNo"),
    ("operatorCode", "copNo"),
    "logistics",
)


# Export (XSD-E22). Receipt keys are the identity fields every export return node carries. Owners: order
# (303), payment (403), logistics (505, 507, 509, 607), inventory (603, 605, 213, 215, 701).
EXPORT_ORDER = DocType(
    "CEB303", "export-order", "Order", "OrderHead", "OrderList", "CEB304", "OrderReturn",
    ("ebpCode", "ebcCode", "orderNo"), ("ebpCode", "ebcCode", "orderNo"), "order",
)
COLLECTION = DocType(  # 收款单: the e-commerce enterprise received the buyer's payment
    "CEB403", "collection", "Receipts", None, None, "CEB404", "ReceiptsReturn",
    ("ebcCode", "orderNo"), ("ebcCode", "orderNo"), "payment",
)
EXPORT_WAYBILL = DocType(
    "CEB505", "export-waybill", "Logistics", None, None, "CEB506", "LogisticsReturn",
    ("logisticsCode", "logisticsNo"), ("logisticsCode", "logisticsNo"), "logistics",
)
ARRIVAL = DocType(  # 运抵单
    "CEB507", "arrival", "Arrival", "ArrivalHead", "ArrivalList", "CEB508", "ArrivalReturn",
    ("operatorCode", "copNo"), ("operatorCode", "copNo"), "logistics",
)
DEPARTURE = DocType(  # 离境单
    "CEB509", "departure", "Departure", "DepartureHead", "DepartureList", "CEB510", "DepartureReturn",
    ("logisticsCode", "copNo"), ("logisticsCode", "copNo"), "logistics",
)
MASTER_BILL = DocType(  # 清单总分单: lists/waybills bound to the master bill of lading
    "CEB607", "master-bill", "WayBill", "WayBillHead", "WayBillList", "CEB608", "WayBillReturn",
    ("agentCode", "copNo"), ("agentCode", "copNo"), "logistics",
)
EXPORT_LIST = DocType(
    "CEB603", "export-inventory", "Inventory", "InventoryHead", "InventoryList", "CEB604", "InventoryReturn",
    ("agentCode", "copNo"), ("agentCode", "copNo"), "inventory", concluded_later=True,
)
EXPORT_CANCEL = DocType(
    "CEB605", "export-cancel", "InvtCancel", None, None, "CEB606", "InvtCancelReturn",
    ("agentCode", "copNo"), ("agentCode", "copNo"), "inventory", concluded_later=True,
)
EXPORT_RETURN = DocType(  # 退货申请单 (公告2020年第44号)
    "CEB213", "export-return", "InvtRefund", "InvtRefundHead", "InvtRefundList", "CEB214", "RefundReturn",
    ("agentCode", "coElNo"), ("agentCode", "coElNo"), "inventory", concluded_later=True,
)
RETURN_TALLY = DocType(  # 退运理货明细单 at the supervision site
    "CEB215", "return-tally", "InvtRefundDetail", None, None, "CEB216", "InvtRefundDetailReturn",
    ("operatorCode", "coElNo", "logisticsNo"), ("operatorCode", "coElNo", "logisticsNo"), "inventory",
)
SUMMARY = DocType(  # 汇总申请单; customs closes it with a CEB792 汇总结果单 (matched by sumNo)
    "CEB701", "summary", "SummaryApply", "SummaryApplyHead", "SummaryApplyList", "CEB702", "SummaryReturn",
    ("agentCode", "copNo"), ("agentCode", "copNo"), "inventory", concluded_later=True,
)

EXPORT: tuple[DocType, ...] = (
    EXPORT_ORDER, COLLECTION, EXPORT_WAYBILL, ARRIVAL, DEPARTURE, MASTER_BILL,
    EXPORT_LIST, EXPORT_CANCEL, EXPORT_RETURN, RETURN_TALLY, SUMMARY,
)
EXPORT_BY_CODE: dict[str, DocType] = {d.code: d for d in EXPORT}

IMPORT: tuple[DocType, ...] = (ORDER, PAYMENT, WAYBILL, WAYBILL_STATUS, INVENTORY, CANCEL, RETURN, ENTRY)
ALL: tuple[DocType, ...] = (*IMPORT, *EXPORT)  # every type an owning service declares
BY_CODE: dict[str, DocType] = {d.code: d for d in ALL}
BY_RECEIPT: dict[str, DocType] = {d.receipt_code: d for d in ALL}
BY_KIND: dict[str, DocType] = {d.kind: d for d in ALL}
