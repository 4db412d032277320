"""The public events of the declaration services on ``cbec.<service>.events`` (envelope ``cbec.event/1``).

Each stored declaration event leaves its service as one :class:`DeclarationEvent`: the envelope
names the stream, its version, the document type and the clearance (also the Kafka key); ``data``
is the event's payload without what stays inside the service (the document, the rendered XML,
the stream's links). Schemas: ``schemas/events/envelope.json`` and one per event type.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cbec.contracts.base import ContractError, check_schema, dump, finding, load_object, text

SCHEMA = "cbec.event/1"

# The event types a declaration service publishes (past tense), one schema each.
RECEIVED = "DocumentReceived"
REFUSED = "DocumentRefused"
HELD = "DocumentHeld"
RELEASED = "DocumentReleased"
SIGNED = "DocumentSigned"
SIGNING_FAILED = "DocumentSigningFailed"
SENT = "DocumentSent"
RECEIPT_RECORDED = "ReceiptRecorded"
WITHDRAWN = "DocumentWithdrawn"  # deleted (appType 3) before customs ever saw it: nothing is sent
EVENT_TYPES = (RECEIVED, REFUSED, HELD, RELEASED, SIGNED, SIGNING_FAILED, SENT, RECEIPT_RECORDED, WITHDRAWN)

PRIVATE_FIELDS = frozenset({"document", "xml", "links"})
"""Payload fields that never leave the service: the document (personal data) and the rendered XML."""


@dataclass(frozen=True, slots=True)
class DeclarationEvent:
    """One public declaration event; ``data`` holds the payload fields of its type's schema."""

    type: str
    stream_id: str
    version: int
    doc_type: str
    clearance_key: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, stream_id: uuid.UUID, version: int, event_type: str, data: Mapping[str, Any]) -> DeclarationEvent:
        """The public form of a stored event (private fields dropped)."""
        return cls(
            type=event_type,
            stream_id=str(stream_id),
            version=version,
            doc_type=str(data.get("docType", "")),
            clearance_key=str(data.get("clearanceKey", "")),
            data={k: v for k, v in data.items() if k not in PRIVATE_FIELDS},
        )

    @property
    def event_id(self) -> str:
        """``<streamId>:<version>``: unique and stable, consumers dedupe by it."""
        return f"{self.stream_id}:{self.version}"

    @property
    def key(self) -> str:
        """The Kafka key: the clearance (a stream without one keeps its own order)."""
        return self.clearance_key or self.stream_id

    @property
    def business_key(self) -> list[str]:
        return [str(k) for k in self.data.get("businessKey", [])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "eventId": self.event_id,
            "type": self.type,
            "streamId": self.stream_id,
            "version": self.version,
            "docType": self.doc_type,
            "clearanceKey": self.clearance_key,
            "data": dict(self.data),
        }

    def to_json(self) -> bytes:
        return dump(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeclarationEvent:
        """Read an envelope; a known event type is checked against its own schema, an unknown one
        (a later version may add types) only against the envelope."""
        if data.get("schema") != SCHEMA:
            raise ContractError([finding("schema", f"not a {SCHEMA} event")])
        version, payload = data.get("version"), data.get("data")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ContractError([finding("version", "version must be an integer")])
        if not isinstance(payload, dict):
            raise ContractError([finding("data", "data must be an object")])
        event = cls(
            type=text(data, "type"),
            stream_id=text(data, "streamId"),
            version=version,
            doc_type=text(data, "docType"),
            clearance_key=text(data, "clearanceKey", required=False),
            data=payload,
        )
        check_schema(f"events/{event.type}.json" if event.type in EVENT_TYPES else "events/envelope.json", data)
        return event

    @classmethod
    def from_json(cls, raw: bytes | str) -> DeclarationEvent:
        return cls.from_dict(load_object(raw))


__all__ = [
    "EVENT_TYPES",
    "HELD",
    "PRIVATE_FIELDS",
    "RECEIPT_RECORDED",
    "RECEIVED",
    "REFUSED",
    "RELEASED",
    "SCHEMA",
    "SENT",
    "SIGNED",
    "SIGNING_FAILED",
    "WITHDRAWN",
    "DeclarationEvent",
]
