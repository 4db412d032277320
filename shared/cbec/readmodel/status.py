"""``cbec.out.status`` messages (schema ``cbec.status/1``): one per party of a changed document."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cbec.declaration import lifecycle as lc
from cbec.readmodel.projection import document_row
from cbec.readmodel.tables import DocumentRow
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent

STATUS_TOPIC = "cbec.out.status"


def status_change(row: DocumentRow, tenant: str, event_id: str) -> dict[str, Any]:
    return {
        "schema": "cbec.status/1",
        "tenant": tenant,
        "clearanceKey": row.clearance_key,
        "docType": row.doc_type,
        "businessKey": list(row.business_key),
        "status": row.status,
        "statusCode": row.status_code,
        "phase": row.phase,
        "occurredAt": row.updated_at.isoformat(),
        "eventId": event_id,
    }


def status_messages(changed: list[tuple[DocumentRow, str]]) -> list[tuple[str, str, bytes]]:
    """(topic, key, value) for every party of every changed row, keyed by the clearance."""
    out: list[tuple[str, str, bytes]] = []
    for row, event_id in changed:
        if not row.business_key:
            continue  # refused before it had a key: only the sender's DLQ / HTTP answer tell it
        for tenant in sorted(row.parties):
            message = status_change(row, tenant, event_id)
            out.append(
                (
                    STATUS_TOPIC,
                    row.clearance_key or row.stream_id,
                    json.dumps(message, ensure_ascii=False).encode(),
                )
            )
    return out


def status_route(store: EventStore) -> Callable[[RecordedEvent], list[tuple[str, str, bytes]]]:
    """An outbox route that announces each declaration event as status changes, as of that event.

    Run it in a second ``OutboxRelay`` (name ``<service>-status``) so status messages are published
    at least once and in order, like the events themselves.
    """

    def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
        if event.type not in lc.EVENT_TYPES:
            return []
        history = [(e.type, e.data) for e in store.read(event.stream_id)][: event.version]
        row = document_row(event.stream_id, history, 0, event.notification_id or 0, event.recorded_at)
        return status_messages([(row, f"{event.stream_id}:{event.version}")]) if row else []

    return route
