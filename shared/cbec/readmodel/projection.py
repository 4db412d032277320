"""Follow a service's notification log into its read model, idempotently.

Each round reads the notifications after the recorded position, reads every touched declaration
stream (one query), folds each to its current state and writes the rows (one upsert for the round)
and the new position in ONE transaction: a crash
repeats a round, never half of one, and a replayed event changes nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from cbec.declaration import lifecycle as lc
from cbec.declaration.doctypes import BY_CODE
from cbec.privacy.masking import party_codes
from cbec.readmodel.tables import DocumentRow, PositionMoved, ReadModel
from cbec.runtime import Paced
from cbec.store.event_store import EventStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Notification:
    notification_id: int
    stream_id: uuid.UUID
    type: str
    recorded_at: datetime


class EventSource(Protocol):
    def notifications(self, start: int, limit: int) -> Sequence[Notification]: ...

    def stream(self, stream_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]: ...


class StoreSource:
    """The service's event store (Postgres or SQLite)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def notifications(self, start: int, limit: int) -> Sequence[Notification]:
        return [
            Notification(e.notification_id or 0, e.stream_id, e.type, e.recorded_at)
            for e in self.store.notifications(start, limit, topics=lc.EVENT_TYPES)
        ]

    def stream(self, stream_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
        return [(e.type, e.data) for e in self.store.read(stream_id)]

    def streams(self, stream_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[tuple[str, dict[str, Any]]]]:
        """Several streams in one query (a round's touched streams)."""
        return {s: [(e.type, e.data) for e in events] for s, events in self.store.read_many(stream_ids).items()}


StatusHook = Callable[[list[tuple[DocumentRow, str]]], None]
"""Called after a round commits with each changed row and the id of the event that changed it."""


def document_row(
    stream_id: uuid.UUID,
    events: list[tuple[str, dict[str, Any]]],
    created_seq: int,
    sequence: int,
    updated_at: datetime,
) -> DocumentRow | None:
    """The row of one declaration stream, or None when it is not a declaration."""
    doc_type = next((d.get("docType") for t, d in events if t in lc.EVENT_TYPES and d.get("docType")), None)
    if not isinstance(doc_type, str) or doc_type not in BY_CODE:
        return None
    state = lc.fold(doc_type, [(t, d) for t, d in events if t in lc.EVENT_TYPES])
    key: list[str] = list(state.links.business_key or [])
    if not key and state.document is not None:
        key = list(BY_CODE[doc_type].business_key(state.document))
    sender = state.sender or next((str(d.get("sender", "")) for t, d in events if d.get("sender")), "")
    parties = set(party_codes(state.document or {})) | ({sender} if sender else set())
    return DocumentRow(
        stream_id=str(stream_id),
        doc_type=doc_type,
        business_key=tuple(key),
        status=state.status,
        status_code=state.status_code,
        phase=state.phase,
        clearance_key=state.clearance_key,
        sender=sender,
        parties=frozenset(parties),
        created_seq=created_seq,
        sequence=sequence,
        updated_at=updated_at,
        clearance_keys=tuple(str(k) for k in state.links.clearance_keys or ()),
    )


class Projection:
    """Keeps ``readmodel`` up to date with ``source``; call :meth:`run_once` from a poller."""

    def __init__(
        self,
        source: EventSource,
        readmodel: ReadModel,
        *,
        name: str = "documents",
        on_change: StatusHook | None = None,
    ) -> None:
        self.source = source
        self.readmodel = readmodel
        self.name = name
        self.on_change = on_change
        self._lock = threading.Lock()  # the poller and the HTTP API's catch-up share one projection

    def run_once(self, limit: int = 500) -> int:
        """Apply up to ``limit`` notifications; return how many were read (0: caught up)."""
        with self._lock:
            return self._run_once(limit)

    def _run_once(self, limit: int) -> int:
        position = self.readmodel.position(self.name)
        batch = self.source.notifications(position + 1, limit)
        if not batch:
            return 0
        touched: dict[uuid.UUID, Notification] = {}
        first_seen: dict[uuid.UUID, int] = {}
        for n in batch:
            first_seen.setdefault(n.stream_id, n.notification_id)
            touched[n.stream_id] = n
        changed: list[tuple[DocumentRow, str]] = []
        streams = self._streams(list(touched))
        for stream_id, last in touched.items():
            events = streams.get(stream_id, [])
            row = document_row(stream_id, events, first_seen[stream_id], last.notification_id, last.recorded_at)
            if row is not None:
                changed.append((row, f"{stream_id}:{len(events)}"))
        try:
            with self.readmodel.engine.begin() as conn:
                self.readmodel.upsert_many(conn, [row for row, _ in changed])
                self.readmodel.set_position(conn, self.name, batch[-1].notification_id, position)
        except PositionMoved:  # a replica's projector did this round first; ours rolled back whole
            log.info("read model %s: another projector moved on; following it", self.name)
            return 0
        if self.on_change is not None and changed:
            self.on_change(changed)
        return len(batch)

    def _streams(self, stream_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple[str, dict[str, Any]]]]:
        """The touched streams: in one read where the source offers it (``streams``), else one by one."""
        many = getattr(self.source, "streams", None)
        if many is not None:
            return cast(dict[uuid.UUID, list[tuple[str, dict[str, Any]]]], many(stream_ids))
        return {stream_id: self.source.stream(stream_id) for stream_id in stream_ids}

    def woken_by(self, store: EventStore, safety_net: float = 5.0) -> Paced:
        """The projection as a poller of the process runtime: a round whenever ``store`` commits, and
        every ``safety_net`` seconds otherwise (for what other processes commit)."""
        wakeup = threading.Event()
        store.on_commit(lambda _committed: wakeup.set())
        return Paced(self.run_once, lambda: safety_net, wakeup)

    def catch_up(self, limit: int = 500, rounds: int = 1000) -> int:
        """Run until no notification is left (or ``rounds`` rounds); return how many were applied."""
        total = 0
        for _ in range(rounds):
            done = self.run_once(limit)
            if not done:
                break
            total += done
        return total
