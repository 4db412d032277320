"""Batched intake: one consumer poll's effects committed in ONE event store transaction.

A ``BatchingDeclarations`` is the service's ``DeclarationStore``. Outside a batch it reads and writes
through to the event store, one transaction per append, as ``EventStoreDeclarations`` does. Inside
``with store.batch(source, streams):`` (on the consumer's thread only; other threads, like the HTTP
API, keep writing through) it reads the named streams in one query, checks versions and positions
against what the batch has seen and written so far, and keeps the appends; leaving the block
commits them all, with the tracking of the batch's last message, in one ``append_batch``. So two
commands on one key in one batch meet as if handled one after the other, and a repeat position is
``AlreadyProcessed`` as it would be in the database.

Any failure (an exception inside the block, or the commit meeting a concurrent writer) discards the
whole batch; the consumer then hands the messages over again one at a time (see ``cbec.bus.delivery``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cbec.declaration.eventstore_adapter import EventStoreDeclarations, tracking_of
from cbec.declaration.ports import AlreadyProcessed, DeclarationStore, Position, StreamAppend, VersionConflict
from cbec.store.codec import canonical_json, load_json
from cbec.store.event_store import EventStore
from cbec.store.events import Append, NewEvent
from cbec.telemetry import current_headers

Event = tuple[str, dict[str, Any]]


class NotBatchable(Exception):  # noqa: N818 - names the event
    """The batch met something it cannot commit in one transaction (a second tracking source)."""


@dataclass
class _Batch:
    source: str
    done_up_to: int | None  # the source's recorded position when the batch began
    stored: dict[uuid.UUID, list[Event]]
    pending: dict[uuid.UUID, list[Event]] = field(default_factory=dict)
    appends: list[Append] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    last: int | None = None

    def claim(self, position: Position | None) -> None:
        if position is None:
            return
        if position.source != self.source:
            raise NotBatchable(f"position of {position.source} in a batch of {self.source}")
        if position.offset in self.used or (self.done_up_to is not None and position.offset <= self.done_up_to):
            raise AlreadyProcessed(f"{position.source} already processed {position.offset}")
        self.used.add(position.offset)
        self.last = max(position.offset, self.last if self.last is not None else position.offset)


class BatchingDeclarations(DeclarationStore):
    """A ``DeclarationStore`` on the event store that can gather a consumer batch into one transaction."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._direct = EventStoreDeclarations(store)
        self._local = threading.local()

    # -- DeclarationStore ----------------------------------------------------------------------------
    def read(self, stream_id: uuid.UUID) -> list[Event]:
        batch = self._batch()
        if batch is None:
            return self._direct.read(stream_id)
        return self._stored(batch, stream_id) + [
            (kind, load_json(canonical_json(data))) for kind, data in batch.pending.get(stream_id, ())
        ]

    def append_batch(self, appends: Sequence[StreamAppend], position: Position | None = None) -> None:
        batch = self._batch()
        if batch is None:
            self._direct.append_batch(appends, position)
            return
        at: dict[uuid.UUID, int] = {}
        for a in appends:
            if not a.events:
                continue
            if a.stream_id not in at:
                at[a.stream_id] = len(self._stored(batch, a.stream_id)) + len(batch.pending.get(a.stream_id, ()))
            if at[a.stream_id] != a.expected_version:
                raise VersionConflict(f"{a.stream_id}: expected {a.expected_version}, at {at[a.stream_id]}")
            at[a.stream_id] += len(a.events)
        batch.claim(position)
        traced = current_headers()
        for a in appends:
            if a.events:
                batch.pending.setdefault(a.stream_id, []).extend(a.events)
                batch.appends.append(
                    # the trace of the message being handled now, not of the batch's commit
                    Append(a.stream_id, a.expected_version, [NewEvent(kind, data, traced) for kind, data in a.events])
                )

    def record_position(self, position: Position) -> None:
        batch = self._batch()
        if batch is None:
            self._direct.record_position(position)
        else:
            batch.claim(position)

    # -- batches -------------------------------------------------------------------------------------
    def processed_up_to(self, source: str) -> int | None:
        """The last recorded position of ``source`` (``None`` if it has none)."""
        return self.store.max_tracking_id(source)

    @contextmanager
    def batch(
        self, source: str, streams: Iterable[uuid.UUID] = (), *, done_up_to: int | None = None
    ) -> Iterator[None]:
        """Gather this thread's effects until the block ends, then commit them in one transaction
        with the tracking of the highest position claimed (by an append or ``record_position``).
        ``streams`` are read up front in one query; ``done_up_to`` is the source's recorded position
        (read here when not given): positions up to it are ``AlreadyProcessed``."""
        if self._batch() is not None:
            raise RuntimeError("batches do not nest")
        if done_up_to is None:
            done_up_to = self.processed_up_to(source)
        stored = {
            stream: [(e.type, e.data) for e in events] for stream, events in self.store.read_many(streams).items()
        }
        batch = _Batch(source, done_up_to, stored)
        self._local.batch = batch
        try:
            yield
        finally:
            self._local.batch = None
        if batch.appends or batch.last is not None:
            tracking = tracking_of(Position(source, batch.last)) if batch.last is not None else None
            self.store.append_batch(batch.appends, tracking=tracking)

    def _batch(self) -> _Batch | None:
        batch: _Batch | None = getattr(self._local, "batch", None)
        return batch

    def _stored(self, batch: _Batch, stream_id: uuid.UUID) -> list[Event]:
        if stream_id not in batch.stored:
            batch.stored[stream_id] = self._direct.read(stream_id)
        return list(batch.stored[stream_id])
