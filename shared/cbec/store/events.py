"""The event records services hand to, and get back from, the event store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append: its type ("OrderReceived"), JSON-able data and optional metadata
    (correlation id, causation id …; never personal data)."""

    type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as stored. ``version`` counts from 1 within the stream; ``notification_id`` is
    the position in the service's notification log (``None`` when read by stream, since the
    library's per-stream select does not return it)."""

    stream_id: UUID
    version: int
    type: str
    data: dict[str, Any]
    metadata: dict[str, str]
    recorded_at: datetime
    notification_id: int | None = None


@dataclass(frozen=True, slots=True)
class Append:
    """One stream's share of a batched append."""

    stream_id: UUID
    expected_version: int
    events: Sequence[NewEvent]
