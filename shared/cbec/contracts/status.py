"""Status messages out to enterprises (``cbec.out.status``) and the saga's command contract.

Every message is versioned JSON keyed by the clearance key and addressed to one tenant (the
enterprise that sent the document). It never carries personal data.

``StatusChanged`` (schema ``cbec.status/1``)::

    {"schema": "cbec.status/1", "eventId": "...", "tenant": "3105960001",
     "clearanceKey": "3105960001:DEMO00000001", "docType": "CEB311", "businessKey": ["…", "…"],
     "status": "rejected by customs (100)", "statusCode": 100, "phase": "sent",
     "occurredAt": "2026-01-01T00:00:00+00:00", "reason": "<customs returnInfo>"}

``reason`` (customs' returnInfo of a rejection) and ``errors`` (intake or saga refusal findings)
appear only when set. ``ClearanceAlert`` (same schema, ``"type": "ClearanceAlert"``): a document got
no receipt after the allowed number of resends, or its signing failed; ``reason`` says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

STATUS_TOPIC = "cbec.out.status"
SAGA_COMMANDS_TOPIC = "cbec.saga.commands"
GOODS_LEFT_TOPIC = "cbec.in.goods-left"
SCHEMA = "cbec.status/1"

STATUS_CHANGED = "StatusChanged"
CLEARANCE_ALERT = "ClearanceAlert"


@dataclass(frozen=True, slots=True)
class StatusMessage:
    """One status change (or alert) of one document of a clearance, for one tenant."""

    type: str
    message_id: str
    tenant: str
    clearance_key: str
    doc_type: str
    business_key: list[str]
    status: str
    status_code: int | None = None
    phase: str = ""
    reason: str = ""
    at: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``schemas/status/status-change.json``; ``reason``, ``errors`` and ``type``
        appear only when they say something (a rejection's reason, intake errors, an alert)."""
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "eventId": self.message_id,
            "tenant": self.tenant,
            "clearanceKey": self.clearance_key,
            "docType": self.doc_type,
            "businessKey": list(self.business_key),
            "status": self.status,
            "statusCode": self.status_code,
            "phase": self.phase,
            "occurredAt": self.at,
        }
        if self.type != STATUS_CHANGED:
            data["type"] = self.type
        if self.reason:
            data["reason"] = self.reason
        if self.errors:
            data["errors"] = list(self.errors)
        return data

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatusMessage:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} message: {data.get('schema')!r}")
        return cls(
            type=str(data.get("type", STATUS_CHANGED)),
            message_id=str(data["eventId"]),
            tenant=str(data["tenant"]),
            clearance_key=str(data["clearanceKey"]),
            doc_type=str(data.get("docType", "")),
            business_key=[str(k) for k in data.get("businessKey", [])],
            status=str(data.get("status", "")),
            status_code=data.get("statusCode"),
            phase=str(data.get("phase", "")),
            reason=str(data.get("reason", "")),
            at=str(data.get("occurredAt", "")),
            errors=list(data.get("errors", [])),
        )

    @classmethod
    def from_json(cls, raw: bytes) -> StatusMessage:
        return cls.from_dict(json.loads(raw))


@dataclass(frozen=True, slots=True)
class SagaCommand:
    """A command from the saga to an owning service on ``cbec.saga.commands``.

    ``command`` is ReleaseDocument | ResendDocument | RefuseDocument | LockClearance.
    """

    command: str
    command_id: str
    clearance_key: str
    doc_type: str = ""
    business_key: list[str] = field(default_factory=list)
    stream_id: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "command": self.command,
            "commandId": self.command_id,
            "clearanceKey": self.clearance_key,
        }
        if self.doc_type:
            data["docType"] = self.doc_type
            data["businessKey"] = list(self.business_key)
        if self.command == "RefuseDocument":
            data["errors"] = list(self.errors)
        return data

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> SagaCommand:
        data = json.loads(raw)
        return cls(
            command=str(data["command"]),
            command_id=str(data["commandId"]),
            clearance_key=str(data["clearanceKey"]),
            doc_type=str(data.get("docType", "")),
            business_key=[str(k) for k in data.get("businessKey", [])],
            stream_id=str(data.get("streamId", "")),
            errors=list(data.get("errors", [])),
        )


@dataclass(frozen=True, slots=True)
class GoodsLeft:
    """The fact that a clearance's goods left the bonded zone or supervision site.

    JSON on ``cbec.in.goods-left`` (key = clearance key)::

        {"command": "RecordGoodsLeft", "clearanceKey": "<ebpCode>:<orderNo>", "commandId": "...",
         "at": "2026-01-01T00:00:00+00:00"}
    """

    clearance_key: str
    command_id: str
    at: str = ""

    def to_json(self) -> bytes:
        return json.dumps({"command": "RecordGoodsLeft", "clearanceKey": self.clearance_key,
                           "commandId": self.command_id, "at": self.at}, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> GoodsLeft:
        data = json.loads(raw)
        if data.get("command") != "RecordGoodsLeft":
            raise ValueError(f"not a RecordGoodsLeft command: {data.get('command')!r}")
        return cls(str(data["clearanceKey"]), str(data.get("commandId", "")), str(data.get("at", "")))


__all__ = [
    "CLEARANCE_ALERT",
    "GOODS_LEFT_TOPIC",
    "SAGA_COMMANDS_TOPIC",
    "STATUS_CHANGED",
    "STATUS_TOPIC",
    "GoodsLeft",
    "SagaCommand",
    "StatusMessage",
]
