"""``cbec.out.status`` messages (schema ``cbec.status/1``) from read-model rows, one per party.

The saga publishes the platform's status messages (``cbec.contracts.status.StatusMessage``); this
formatter serves a projection's ``on_change`` hook (e.g. webhooks to every party of a document).
"""

from __future__ import annotations

import json
from typing import Any

from cbec.readmodel.tables import DocumentRow

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

