"""Messages between the declaration services and the customs link (receipts service)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

TRANSMISSIONS_TOPIC = "cbec.customs.transmissions"
RECEIPTS_TOPIC = "cbec.customs.receipts"


@dataclass(frozen=True, slots=True)
class DocumentTransmitted:
    """A signed document left for customs in a DxpMsg."""

    request_id: str
    doc_type: str
    clearance_key: str
    file_name: str
    cop_msg_id: str
    sent_at: str  # ISO-8601 UTC

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> DocumentTransmitted:
        return cls(**json.loads(raw))


@dataclass(frozen=True, slots=True)
class ReceiptReceived:
    """One customs receipt node, correlated to its document by business key."""

    receipt_id: str  # stable hash of the node: duplicates share it
    receipt_type: str  # "CEB312"
    doc_type: str  # "CEB311"
    business_key: list[str]
    return_status: int
    return_time: str
    return_info: str
    node: dict[str, Any]

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ReceiptReceived:
        return cls(**json.loads(raw))
