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

ALL: tuple[DocType, ...] = (ORDER, PAYMENT, WAYBILL, WAYBILL_STATUS, INVENTORY, CANCEL, RETURN, ENTRY)
BY_CODE: dict[str, DocType] = {d.code: d for d in ALL}
BY_RECEIPT: dict[str, DocType] = {d.receipt_code: d for d in ALL}
BY_KIND: dict[str, DocType] = {d.kind: d for d in ALL}
