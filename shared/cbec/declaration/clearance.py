"""Per-clearance facts an owning service keeps: whether the clearance is locked against changes.

The saga sends ``LockClearance`` once the clearance's list is declared; each owning service records
``ClearanceLocked`` in a stream of its own store named by the clearance key, and refuses later
changes to that clearance's order, payment or waybill. A change racing the lock message is the same
race customs has; customs refuses it with the same codes (-301011/-401008/-504016).
"""

from __future__ import annotations

import uuid

from cbec.declaration.doctypes import STREAM_NAMESPACE

CLEARANCE_LOCKED = "ClearanceLocked"


def stream_id(clearance_key: str) -> uuid.UUID:
    return uuid.uuid5(STREAM_NAMESPACE, f"clearance:{clearance_key}")
