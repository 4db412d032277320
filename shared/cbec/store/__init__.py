"""The event store port: streams with optimistic concurrency, a gap-free notification log,
consumer tracking, and the outbox relay (see README.md)."""

from eventsourcing.persistence import Tracking

from cbec.store.codec import Cipher, canonical_json, load_json
from cbec.store.errors import AlreadyProcessed, ConcurrencyError, DecodeError, StoreError
from cbec.store.event_store import EventStore
from cbec.store.events import Append, NewEvent, RecordedEvent
from cbec.store.recorders import close_recorder, open_recorder

__all__ = [
    "AlreadyProcessed",
    "Append",
    "Cipher",
    "ConcurrencyError",
    "DecodeError",
    "EventStore",
    "NewEvent",
    "RecordedEvent",
    "StoreError",
    "Tracking",
    "canonical_json",
    "close_recorder",
    "load_json",
    "open_recorder",
]
