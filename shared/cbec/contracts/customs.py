"""Messages between the declaration services and the customs link (receipts service).

``cbec.feedback.<owner>.transmissions``: :class:`DocumentTransmitted` (``schemas/customs/document-transmitted.json``);
``cbec.feedback.<owner>.receipts``: :class:`ReceiptReceived` (``schemas/customs/receipt-received.json``).
The owner is the declaration service of the document type (``cbec.declaration.owners``). Both are
keyed by the clearance key (a receipt without one by its business key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cbec.contracts.base import ContractError, JsonMessage, check_schema, finding, text, texts

TRANSMITTED_SCHEMA = "customs/document-transmitted.json"
RECEIPT_SCHEMA = "customs/receipt-received.json"


@dataclass(frozen=True, slots=True)
class DocumentTransmitted(JsonMessage):
    """A signed document left for customs in a DxpMsg."""

    request_id: str
    doc_type: str
    clearance_key: str
    file_name: str
    cop_msg_id: str
    sent_at: str  # ISO-8601 UTC

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "doc_type": self.doc_type,
            "clearance_key": self.clearance_key,
            "file_name": self.file_name,
            "cop_msg_id": self.cop_msg_id,
            "sent_at": self.sent_at,
        }

    @property
    def key(self) -> str:
        """The Kafka key: the clearance."""
        return self.clearance_key

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentTransmitted:
        sent = cls(
            request_id=text(data, "request_id"),
            doc_type=text(data, "doc_type"),
            clearance_key=text(data, "clearance_key", required=False),
            file_name=text(data, "file_name"),
            cop_msg_id=text(data, "cop_msg_id", required=False),
            sent_at=text(data, "sent_at"),
        )
        check_schema(TRANSMITTED_SCHEMA, data)
        return sent


@dataclass(frozen=True, slots=True)
class ReceiptReceived(JsonMessage):
    """One customs receipt node, correlated to its document by business key."""

    receipt_id: str  # stable hash of the node: duplicates share it
    receipt_type: str  # "CEB312"
    doc_type: str  # "CEB311"; "" when a CEB900 names no transmission we know
    business_key: list[str]
    return_status: int
    return_time: str
    return_info: str
    node: dict[str, str] = field(default_factory=dict)  # the receipt's text fields (+ requestId/clearanceKey)

    def to_dict(self) -> dict[str, Any]:
        return {
            "receipt_id": self.receipt_id,
            "receipt_type": self.receipt_type,
            "doc_type": self.doc_type,
            "business_key": list(self.business_key),
            "return_status": self.return_status,
            "return_time": self.return_time,
            "return_info": self.return_info,
            "node": dict(self.node),
        }

    @property
    def key(self) -> str:
        """The Kafka key: the clearance when the link knows it, else the business key."""
        return self.node.get("clearanceKey", "") or ":".join(self.business_key)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReceiptReceived:
        status, node = data.get("return_status"), data.get("node")
        if not isinstance(status, int) or isinstance(status, bool):
            raise ContractError([finding("return_status", "return_status must be an integer")])
        if not isinstance(node, dict):
            raise ContractError([finding("node", "node must be an object")])
        receipt = cls(
            receipt_id=text(data, "receipt_id"),
            receipt_type=text(data, "receipt_type"),
            doc_type=text(data, "doc_type", required=False),
            business_key=list(texts(data, "business_key", required=False)),
            return_status=status,
            return_time=text(data, "return_time", required=False),
            return_info=text(data, "return_info", required=False),
            node={str(k): str(v) for k, v in node.items()},
        )
        check_schema(RECEIPT_SCHEMA, data)
        return receipt


SUMMARY_RESULT_LISTS = "invtNos"
"""The ``node`` field of a summary result naming its lists (comma-separated invtNos)."""


def summary_result_node(head: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The ``node`` of the ReceiptReceived carrying customs' summary result (CEB792 汇总结果单) to the
    summary's owner: the SummaryResultHead's text fields (sumNo, decState, opDate, agentCode …) and
    ``invtNos``, the lists its SummaryResultList names, each once, in order, comma-separated.

    The rest of that ReceiptReceived: ``receipt_type`` the result's message type, ``doc_type`` the
    summary's, ``business_key`` the summary's agentCode and copNo when the link knows them (else empty:
    the owner finds the summary by sumNo, which its CEB702 receipt gave), ``return_time`` the opDate."""
    node = {str(k): v for k, v in head.items() if isinstance(v, str)}
    invt_nos = dict.fromkeys(str(line.get("invtNo", "")) for line in lines if line.get("invtNo"))
    node[SUMMARY_RESULT_LISTS] = ",".join(invt_nos)
    return node


__all__ = ["SUMMARY_RESULT_LISTS", "DocumentTransmitted", "ReceiptReceived", "summary_result_node"]
