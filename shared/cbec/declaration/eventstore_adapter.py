"""DeclarationStore over the project's event store (Postgres or SQLite)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking

from cbec.declaration.ports import DeclarationStore, Position, StreamAppend
from cbec.store.event_store import EventStore
from cbec.store.events import Append, NewEvent


def tracking_of(position: Position) -> Tracking:
    return Tracking(application_name=position.source, notification_id=position.offset)


class EventStoreDeclarations(DeclarationStore):
    """Streams as (type, data) pairs; a consumer's position commits with the events it caused."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def read(self, stream_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
        return [(e.type, e.data) for e in self.store.read(stream_id)]

    def append_batch(self, appends: Sequence[StreamAppend], position: Position | None = None) -> None:
        self.store.append_batch(
            [Append(a.stream_id, a.expected_version, [NewEvent(t, d) for t, d in a.events]) for a in appends],
            tracking=tracking_of(position) if position else None,
        )

    def record_position(self, position: Position) -> None:
        self.store.record_tracking(tracking_of(position))
