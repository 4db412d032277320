"""What the declaration application needs from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cbec.declaration.doctypes import DocType
from cbec.errors import CebError
from cbec.store.errors import AlreadyProcessed
from cbec.store.errors import ConcurrencyError as VersionConflict


@dataclass(frozen=True, slots=True)
class Position:
    """Where a consumed message came from (topic:partition and offset): recorded with the effect."""

    source: str
    offset: int


@dataclass(frozen=True, slots=True)
class StreamAppend:
    """Events for one stream, expected at ``expected_version``; several commit together."""

    stream_id: uuid.UUID
    expected_version: int
    events: Sequence[tuple[str, dict[str, Any]]]


__all__ = [
    "AlreadyProcessed",
    "VersionConflict",
    "Position",
    "StreamAppend",
    "DeclarationStore",
    "Validator",
    "Renderer",
]


class DeclarationStore(Protocol):
    """Streams of (type, data) events; an implementation that subclasses it inherits ``append``."""

    def read(self, stream_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]: ...

    def append(
        self,
        stream_id: uuid.UUID,
        expected_version: int,
        events: Sequence[tuple[str, dict[str, Any]]],
        position: Position | None = None,
    ) -> None:
        """Append atomically with the position; raise VersionConflict or AlreadyProcessed."""
        self.append_batch([StreamAppend(stream_id, expected_version, events)], position)

    def append_batch(self, appends: Sequence[StreamAppend], position: Position | None = None) -> None:
        """Append to several streams in one transaction (all or nothing), with the position."""
        ...

    def record_position(self, position: Position) -> None:
        """Mark a message handled when it caused no event; raise AlreadyProcessed on a repeat."""
        ...


Validator = Callable[[DocType, dict[str, Any]], list[CebError]]
Renderer = Callable[[DocType, dict[str, Any], dict[str, str]], bytes]
