"""``cbec.out.status`` messages (schema ``cbec.status/1``) from read-model rows, one per party.

The saga publishes the platform's status messages (``cbec.contracts.status.StatusMessage``); this
formatter serves a projection's ``on_change`` hook (e.g. webhooks to every party of a document).
"""

from __future__ import annotations

from typing import Any

from cbec.contracts.status import STATUS_CHANGED, StatusMessage
from cbec.contracts.topics import STATUS as STATUS_TOPIC
from cbec.readmodel.tables import DocumentRow


def status_change(row: DocumentRow, tenant: str, event_id: str) -> dict[str, Any]:
    return status_message(row, tenant, event_id).to_dict()


def status_message(row: DocumentRow, tenant: str, event_id: str) -> StatusMessage:
    return StatusMessage(STATUS_CHANGED, event_id, tenant, row.clearance_key, row.doc_type, list(row.business_key),
                         row.status, row.status_code, row.phase, at=row.updated_at.isoformat())


def status_messages(changed: list[tuple[DocumentRow, str]]) -> list[tuple[str, str, bytes]]:
    """(topic, key, value) for every party of every changed row, keyed by the clearance."""
    out: list[tuple[str, str, bytes]] = []
    for row, event_id in changed:
        if not row.business_key:
            continue  # refused before it had a key: only the sender's DLQ / HTTP answer tell it
        for tenant in sorted(row.parties):
            message = status_message(row, tenant, event_id)
            out.append((STATUS_TOPIC, row.clearance_key or row.stream_id, message.to_json()))
    return out

