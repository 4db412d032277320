"""Where a stored declaration event goes on the bus: the public events topic, and sign requests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from cbec.bus.limits import TOO_LARGE
from cbec.contracts import topics
from cbec.contracts.dead_letter import DEAD_LETTERED, DeadLetter, Sealer
from cbec.contracts.events import RELEASED, DeclarationEvent
from cbec.contracts.signing import SignRequest, SignResult
from cbec.declaration import parking
from cbec.declaration.numbers import NUMBER_ASSIGNED
from cbec.errors import CebError
from cbec.store.events import RecordedEvent

# Bookkeeping events that never leave the service (clearance locks, buyer quota ledgers, the number index,
# customs' results parked until their number is assigned).
INTERNAL_EVENTS = frozenset({"ClearanceLocked", "QuotaReserved", "QuotaConsumed", "QuotaReleased", NUMBER_ASSIGNED,
                             *parking.EVENTS})


def sign_request(data: dict[str, Any]) -> SignRequest:
    """The sign request of a DocumentReleased: the sender's certificate signs the rendered XML."""
    return SignRequest(
        request_id=str(data["requestId"]),
        tenant=str(data["sender"]),
        doc_type=str(data["docType"]),
        clearance_key=str(data["clearanceKey"]),
        xml_b64=str(data["xml"]),
    )


def dead_letter_message(service: str, data: dict[str, Any], cipher: Sealer | None = None) -> tuple[str, str, bytes]:
    """The stored dead letter ``data`` as a message on the service's dead-letter topic, its raw
    message sealed with the PII key ring when one is configured."""
    letter = DeadLetter.stored(data).sealed_with(cipher)
    return (topics.dead_letters(service), letter.key, letter.to_json())


def route(
    service: str, stream_id: uuid.UUID, version: int, event_type: str, data: dict[str, Any],
    cipher: Sealer | None = None,
) -> list[tuple[str, str, bytes]]:
    """(topic, key, value) triples for one event; the key keeps a clearance on one partition."""
    if event_type == DEAD_LETTERED:
        return [dead_letter_message(service, data, cipher)]
    if event_type in INTERNAL_EVENTS:
        return []
    event = DeclarationEvent.of(stream_id, version, event_type, data)
    out = [(topics.events(service), event.key, event.to_json())]
    if event_type == RELEASED:
        out.append((topics.SIGN_REQUESTS, event.key, sign_request(data).to_json()))
    return out


def too_large(service: str) -> Callable[[RecordedEvent, str, str, int, int], list[tuple[str, str, bytes]]]:
    """The outbox relay's answer to a message above the size limit (``OutboxRelay(too_large=...)``).

    The message is not sent; a dead letter naming the stored event goes to ``cbec.dlq.<service>`` (the
    document itself stays in the event store). An oversized sign request also gets a failed sign outcome
    (CBEC-0091) on the service's own ``cbec.feedback.<service>.sign-outcomes``: the document becomes
    "signing failed" and the saga raises its signing alert on ``cbec.out.status``, so the sender learns
    of it and later documents go on.
    """

    def answer(event: RecordedEvent, topic: str, key: str, size: int, limit: int) -> list[tuple[str, str, bytes]]:
        reason = (f"a message of {size} bytes for {topic} exceeds the configured limit of {limit} bytes "
                  "(CBEC_KAFKA_MAX_MESSAGE_BYTES)")
        letter = DeadLetter(f"outbox:{service}", event.notification_id or 0,
                            (CebError(TOO_LARGE, "$", "max.message.bytes", reason),),
                            f"{event.type} {event.stream_id} version {event.version}", topic=topic)
        out = [(topics.dead_letters(service), letter.key, letter.to_json())]
        if topic == topics.SIGN_REQUESTS and event.type == RELEASED:
            request = sign_request(event.data)
            failed = SignResult.failure(request, TOO_LARGE, reason).outcome()
            out.append((topics.feedback(service, topics.FEEDBACK_SIGNED), key, failed.to_json()))
        return out

    return answer
