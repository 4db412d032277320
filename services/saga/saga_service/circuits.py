"""The notifier's circuit changes on ``cbec.ops.notification-circuits`` (:class:`CircuitChanged`), for the
console's operator view: stored as an event in the saga's store, so its outbox relay publishes it (at
least once; keyed by the tenant, so a tenant's changes stay in order). A change is recorded once: its
stream is named by the tenant, the state, the failed probes and the time of the change.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from cbec.contracts.circuits import CLOSED, OPEN, CircuitChanged
from cbec.contracts.topics import NOTIFICATION_CIRCUITS
from cbec.store.errors import ConcurrencyError
from cbec.store.event_store import EventStore
from cbec.store.events import Append, NewEvent, RecordedEvent

CIRCUIT_CHANGED = "NotificationCircuitChanged"
CIRCUIT_NAMESPACE = uuid.UUID("5d0c9e2a-7f41-4b8e-9a63-1c2b3d4e5f60")


def opened(tenant: str, now: datetime, since: datetime | None, probe_due: datetime, probes: int,
           error: str) -> CircuitChanged:
    return CircuitChanged(tenant, OPEN, now.isoformat(), (since or now).isoformat(), probe_due.isoformat(), probes,
                          error[:300])


def closed(tenant: str, now: datetime) -> CircuitChanged:
    return CircuitChanged(tenant, CLOSED, now.isoformat())


def record(events: EventStore | None, change: CircuitChanged) -> None:
    """Store ``change`` for the relay (nothing without a store)."""
    if events is None:
        return
    stream = uuid.uuid5(CIRCUIT_NAMESPACE, f"{change.tenant}|{change.state}|{change.probes}|{change.changed_at}")
    try:
        events.append_batch([Append(stream, 0, [NewEvent(CIRCUIT_CHANGED, change.to_dict())])])
    except ConcurrencyError:
        pass  # recorded already


def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
    """A stored circuit change goes to ``cbec.ops.notification-circuits``, keyed by its tenant."""
    if event.type != CIRCUIT_CHANGED:
        return []
    change = CircuitChanged.from_dict(dict(event.data))
    return [(NOTIFICATION_CIRCUITS, change.key, change.to_json())]
