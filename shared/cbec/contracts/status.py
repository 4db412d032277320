"""Status messages out to enterprises on ``cbec.out.status``, also POSTed to their webhooks.

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

from dataclasses import dataclass, field
from typing import Any

from cbec.contracts.base import ContractError, JsonMessage, ceb_errors, check_schema, dump, finding, text, texts
from cbec.contracts.topics import STATUS as STATUS_TOPIC

SCHEMA = "cbec.status/1"
JSON_SCHEMA = "status/status-change.json"

STATUS_CHANGED = "StatusChanged"
CLEARANCE_ALERT = "ClearanceAlert"


@dataclass(frozen=True, slots=True)
class StatusMessage(JsonMessage):
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
        """The message as published (and as the webhook body the tenant's HMAC covers)."""
        return dump(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatusMessage:
        if data.get("schema") != SCHEMA:
            raise ContractError([finding("schema", f"not a {SCHEMA} message")])
        code = data.get("statusCode")
        if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
            raise ContractError([finding("statusCode", "statusCode must be an integer or null")])
        message = cls(
            type=text(data, "type", required=False) or STATUS_CHANGED,
            message_id=text(data, "eventId"),
            tenant=text(data, "tenant"),
            clearance_key=text(data, "clearanceKey", required=False),
            doc_type=text(data, "docType", required=False),
            business_key=list(texts(data, "businessKey", required=False)),
            status=text(data, "status", required=False),
            status_code=code,
            phase=text(data, "phase", required=False),
            reason=text(data, "reason", required=False),
            at=text(data, "occurredAt", required=False),
            errors=[e.to_dict() for e in ceb_errors(data, "errors", required=False)],
        )
        check_schema(JSON_SCHEMA, data)
        return message


__all__ = ["CLEARANCE_ALERT", "SCHEMA", "STATUS_CHANGED", "STATUS_TOPIC", "StatusMessage"]
