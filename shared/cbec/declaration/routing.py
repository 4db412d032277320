"""Where a stored declaration event goes on the bus: the public events topic, and sign requests."""

from __future__ import annotations

import json
import uuid
from typing import Any

from cbec.declaration import lifecycle as lc

SIGN_REQUESTS_TOPIC = "cbec.sign.requests"
SIGN_RESULTS_TOPIC = "cbec.sign.results"

# Payload fields that stay inside the service: the document (personal data) and the rendered XML.
_PRIVATE = frozenset({"document", "xml", "links"})
# Bookkeeping events that never leave the service (clearance locks, buyer quota ledgers).
INTERNAL_EVENTS = frozenset({"ClearanceLocked", "QuotaReserved", "QuotaConsumed", "QuotaReleased"})


def events_topic(service: str) -> str:
    return f"cbec.{service}.events"


def public_event(stream_id: uuid.UUID, version: int, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The versioned JSON envelope platforms consume (no personal data)."""
    return {
        "schema": "cbec.event/1",
        "eventId": f"{stream_id}:{version}",
        "type": event_type,
        "streamId": str(stream_id),
        "version": version,
        "docType": data.get("docType", ""),
        "clearanceKey": data.get("clearanceKey", ""),
        "data": {k: v for k, v in data.items() if k not in _PRIVATE},
    }


def sign_request(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": data["requestId"],
        "tenant": data["sender"],
        "doc_type": data["docType"],
        "clearance_key": data["clearanceKey"],
        "xml_b64": data["xml"],
    }


def route(
    service: str, stream_id: uuid.UUID, version: int, event_type: str, data: dict[str, Any]
) -> list[tuple[str, str, bytes]]:
    """(topic, key, value) triples for one event; the key keeps a clearance on one partition."""
    if event_type == "CommandDeadLettered":
        return [
            (
                f"cbec.dlq.{service}",
                str(data.get("source", "")),
                json.dumps(data, ensure_ascii=False).encode(),
            )
        ]
    if event_type in INTERNAL_EVENTS:
        return []
    key = data.get("clearanceKey") or str(stream_id)
    out = [
        (
            events_topic(service),
            key,
            json.dumps(public_event(stream_id, version, event_type, data), ensure_ascii=False).encode(),
        )
    ]
    if event_type == lc.RELEASED:
        out.append((SIGN_REQUESTS_TOPIC, key, json.dumps(sign_request(data)).encode()))
    return out
