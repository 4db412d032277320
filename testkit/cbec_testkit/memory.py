"""An in-memory DeclarationStore for unit tests, and a read-model source over it (:class:`MemorySource`)."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from cbec.declaration.ports import AlreadyProcessed, DeclarationStore, Position, StreamAppend, VersionConflict
from cbec.readmodel.projection import Notification


class InMemoryDeclarationStore(DeclarationStore):
    """Streams, a notification log and processed positions, all in one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[uuid.UUID, list[tuple[str, dict[str, Any]]]] = {}
        self._positions: set[Position] = set()
        self.log: list[tuple[uuid.UUID, int, str, dict[str, Any]]] = []

    def read(self, stream_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return copy.deepcopy(self._streams.get(stream_id, []))

    def append_batch(self, appends: Sequence[StreamAppend], position: Position | None = None) -> None:
        with self._lock:
            if position is not None and position in self._positions:
                raise AlreadyProcessed(position)
            for a in appends:
                at = len(self._streams.get(a.stream_id, []))
                if a.events and at != a.expected_version:
                    raise VersionConflict(f"{a.stream_id}: expected {a.expected_version}, at {at}")
            for a in appends:
                stream = self._streams.setdefault(a.stream_id, [])
                for event_type, data in a.events:
                    stream.append((event_type, copy.deepcopy(data)))
                    self.log.append((a.stream_id, len(stream), event_type, copy.deepcopy(data)))
            if position is not None:
                self._positions.add(position)

    def record_position(self, position: Position) -> None:
        with self._lock:
            if position in self._positions:
                raise AlreadyProcessed(position)
            self._positions.add(position)


class MemorySource:
    """The in-memory declaration store's log as a read-model source (tests)."""

    def __init__(self, store: InMemoryDeclarationStore, now: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.now = now or (lambda: datetime.now(UTC))

    def notifications(self, start: int, limit: int) -> Sequence[Notification]:
        entries = self.store.log[start - 1 : start - 1 + limit]
        return [Notification(start + i, s, t, self.now()) for i, (s, _, t, _) in enumerate(entries)]

    def stream(self, stream_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
        return self.store.read(stream_id)
