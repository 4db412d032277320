"""An in-memory DeclarationStore for unit tests and the embedded demo's fast path."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Sequence
from typing import Any

from cbec.declaration.ports import AlreadyProcessed, Position, VersionConflict


class InMemoryDeclarationStore:
    """Streams, a notification log and processed positions, all in one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[uuid.UUID, list[tuple[str, dict[str, Any]]]] = {}
        self._positions: set[Position] = set()
        self.log: list[tuple[uuid.UUID, int, str, dict[str, Any]]] = []

    def read(self, stream_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return copy.deepcopy(self._streams.get(stream_id, []))

    def append(
        self,
        stream_id: uuid.UUID,
        expected_version: int,
        events: Sequence[tuple[str, dict[str, Any]]],
        position: Position | None = None,
    ) -> None:
        with self._lock:
            if position is not None and position in self._positions:
                raise AlreadyProcessed(position)
            stream = self._streams.setdefault(stream_id, [])
            if len(stream) != expected_version:
                raise VersionConflict(f"{stream_id}: expected {expected_version}, at {len(stream)}")
            for event_type, data in events:
                stream.append((event_type, copy.deepcopy(data)))
                self.log.append((stream_id, len(stream), event_type, copy.deepcopy(data)))
            if position is not None:
                self._positions.add(position)

    def record_position(self, position: Position) -> None:
        with self._lock:
            if position in self._positions:
                raise AlreadyProcessed(position)
            self._positions.add(position)
