"""Where a stored declaration event goes on the bus: the public events topic, and sign requests."""

from __future__ import annotations

import uuid
from typing import Any

from cbec.contracts import topics
from cbec.contracts.dead_letter import DEAD_LETTERED, DeadLetter
from cbec.contracts.events import RELEASED, DeclarationEvent
from cbec.contracts.signing import SignRequest

# Bookkeeping events that never leave the service (clearance locks, buyer quota ledgers).
INTERNAL_EVENTS = frozenset({"ClearanceLocked", "QuotaReserved", "QuotaConsumed", "QuotaReleased"})


def public_event(stream_id: uuid.UUID, version: int, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The versioned JSON envelope platforms consume (no personal data)."""
    return DeclarationEvent.of(stream_id, version, event_type, data).to_dict()


def sign_request(data: dict[str, Any]) -> SignRequest:
    """The sign request of a DocumentReleased: the sender's certificate signs the rendered XML."""
    return SignRequest(
        request_id=str(data["requestId"]),
        tenant=str(data["sender"]),
        doc_type=str(data["docType"]),
        clearance_key=str(data["clearanceKey"]),
        xml_b64=str(data["xml"]),
    )


def route(
    service: str, stream_id: uuid.UUID, version: int, event_type: str, data: dict[str, Any]
) -> list[tuple[str, str, bytes]]:
    """(topic, key, value) triples for one event; the key keeps a clearance on one partition."""
    if event_type == DEAD_LETTERED:
        letter = DeadLetter.stored(data)
        return [(topics.dead_letters(service), letter.key, letter.to_json())]
    if event_type in INTERNAL_EVENTS:
        return []
    event = DeclarationEvent.of(stream_id, version, event_type, data)
    out = [(topics.events(service), event.key, event.to_json())]
    if event_type == RELEASED:
        out.append((topics.SIGN_REQUESTS, event.key, sign_request(data).to_json()))
    return out
