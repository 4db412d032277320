"""The event store facade services use: append with optimistic concurrency, read, tail."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError, ProcessRecorder, StoredEvent, Tracking

from cbec.clock import Clock, SystemClock
from cbec.store.codec import Cipher, canonical_json, load_json
from cbec.store.errors import AlreadyProcessed, ConcurrencyError, DecodeError
from cbec.store.events import Append, NewEvent, RecordedEvent
from cbec.store.recorders import (
    DEFAULT_MAX_OVERFLOW,
    DEFAULT_POOL_SIZE,
    IN_TRANSACTION,
    InTransaction,
    close_recorder,
    count_existing_versions,
    open_recorder,
    select_streams,
)
from cbec.telemetry import current_headers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Committed:
    """An event this process has just committed, with its notification id: what a commit listener
    gets instead of reading the event back (``event()`` parses the plaintext it was stored from)."""

    notification_id: int
    stream_id: UUID
    version: int
    type: str
    body: bytes

    def event(self) -> RecordedEvent:
        return _recorded(self.stream_id, self.version, self.type, self.body, self.notification_id)


CommitListener = Callable[[Sequence[Committed]], None]
"""Called after each commit of events through the store; an empty list means "events were
committed but cannot be handed on: read the log"."""


class EventStore:
    """Streams of events keyed by UUID, plus the service's notification log and tracking.

    Every ``append`` is one database transaction: the events of all streams in it and, when
    given, the consumer's tracking position commit together or not at all.
    """

    def __init__(
        self,
        recorder: ProcessRecorder,
        *,
        cipher: Cipher | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.recorder = recorder
        self._cipher = cipher
        self._clock: Clock = clock or SystemClock()
        self._listeners: list[CommitListener] = []
        # Whether tables kept beside the store make themselves (False: the migrations made them).
        self.creates_tables = True

    @classmethod
    def open(
        cls,
        url: str,
        *,
        schema: str,
        name: str,
        cipher: Cipher | None = None,
        clock: Clock | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
        create: bool = True,
    ) -> EventStore:
        """Open (and create if needed, unless ``create=False``) the store of service ``name``; see
        :func:`open_recorder`. Tables kept beside it follow ``creates_tables``."""
        recorder = open_recorder(url, schema=schema, name=name, pool_size=pool_size, max_overflow=max_overflow,
                                 create=create)
        store = cls(recorder, cipher=cipher, clock=clock)
        store.creates_tables = create
        return store

    def close(self) -> None:
        close_recorder(self.recorder)

    def on_commit(self, listener: CommitListener) -> None:
        """Call ``listener`` in the committing thread after every append that stored events, with
        those events (see :class:`Committed`); it must be quick and must not raise (an error is logged,
        never turned into a failed append: the events are committed)."""
        self._listeners.append(listener)

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def append(
        self,
        stream_id: UUID,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        tracking: Tracking | None = None,
    ) -> list[int]:
        """Append ``events`` after version ``expected_version`` (0 for a new stream).

        Returns the events' notification ids. Raises ``ConcurrencyError`` if the stream is not
        at ``expected_version``, and ``AlreadyProcessed`` if ``tracking`` (a consumer's position)
        was already recorded; in both cases nothing is written.
        """
        return self.append_batch([Append(stream_id, expected_version, events)], tracking=tracking)

    def append_batch(self, appends: Sequence[Append], *, tracking: Tracking | None = None,
                     also: InTransaction | None = None) -> list[int]:
        """Append to several streams in one transaction (e.g. a consumer's batch of messages).

        ``also(cursor)`` runs in that transaction, before the events are inserted, with the
        recorder's DB-API cursor (psycopg or sqlite3): rows of the service's own tables that must
        commit or roll back with the events (e.g. the saga's deadline index)."""
        recorded_at = self._clock.now()
        stored: list[StoredEvent] = []
        bodies: list[bytes] = []
        for append in appends:
            if append.expected_version < 0:
                raise ValueError("expected_version counts events and cannot be negative")
            for version, event in enumerate(append.events, start=append.expected_version + 1):
                body = self._body(event, recorded_at)
                bodies.append(body)
                stored.append(
                    StoredEvent(
                        originator_id=append.stream_id,
                        originator_version=version,
                        topic=event.type,
                        state=self._cipher.encrypt(body) if self._cipher else body,
                    )
                )
        if not stored and tracking is None and also is None:
            return []
        try:
            self._require_versions(appends)
            extra = {} if also is None else {IN_TRANSACTION: also}
            notification_ids = self.recorder.insert_events(stored, tracking=tracking, **extra)
        except (IntegrityError, ConcurrencyError) as error:
            if tracking is not None and self.has_tracking(
                tracking.application_name, tracking.notification_id
            ):
                raise AlreadyProcessed(
                    f"{tracking.application_name} already processed {tracking.notification_id}"
                ) from error
            if isinstance(error, ConcurrencyError):
                raise
            streams = _some(str(a.stream_id) for a in appends)
            raise ConcurrencyError(f"stream moved on before append: {streams}") from error
        ids = list(notification_ids or [])
        if stored and self._listeners:
            self._committed(stored, bodies, ids)
        return ids

    def _committed(self, stored: list[StoredEvent], bodies: list[bytes], ids: list[int]) -> None:
        committed: list[Committed] = []
        # Paired by position: the recorders return ids in insert order (ascending, under the table lock).
        if len(ids) == len(stored) and all(a < b for a, b in zip(ids, ids[1:], strict=False)):
            committed = [Committed(nid, cast(UUID, s.originator_id), s.originator_version, s.topic, body)
                         for nid, s, body in zip(ids, stored, bodies, strict=True)]
        for listener in self._listeners:
            try:
                listener(committed)
            except Exception:  # noqa: BLE001 - the append is committed; a listener's failure is its own
                log.exception("commit listener %r failed", listener)

    def record_tracking(self, tracking: Tracking) -> None:
        """Record a position with no events (e.g. a message that changed nothing)."""
        self.append_batch([], tracking=tracking)

    def _require_versions(self, appends: Sequence[Append]) -> None:
        # Versions are never deleted, so if the expected versions exist now, the insert either
        # follows them contiguously or collides with a concurrent writer on the primary key:
        # checking before the insert transaction cannot race. Stale versions fail the insert.
        produced: dict[UUID, int] = {}  # a batch may append to one stream more than once
        wanted: list[tuple[UUID, int]] = []
        for append in appends:
            if not append.events:
                continue
            if append.stream_id in produced:
                if append.expected_version != produced[append.stream_id]:
                    raise ConcurrencyError(f"batch appends to {append.stream_id} out of sequence")
            elif append.expected_version > 0:
                wanted.append((append.stream_id, append.expected_version))
            produced[append.stream_id] = append.expected_version + len(append.events)
        if wanted and count_existing_versions(self.recorder, wanted) != len(wanted):
            streams = _some(str(stream) for stream, _ in wanted)
            raise ConcurrencyError(f"expected version not reached by stream(s): {streams}")

    # -- reading -------------------------------------------------------------------------------

    def read(self, stream_id: UUID, *, after_version: int = 0) -> list[RecordedEvent]:
        """The stream's events in version order (empty for an unknown stream)."""
        gt = after_version or None
        return [self._decode(s, None) for s in self.recorder.select_events(stream_id, gt=gt)]

    def read_many(self, stream_ids: Iterable[UUID]) -> dict[UUID, list[RecordedEvent]]:
        """Several streams at once (one query, e.g. for a consumer's batch): each id maps to its
        events in version order, an unknown stream to an empty list."""
        wanted = list(dict.fromkeys(stream_ids))
        streams: dict[UUID, list[RecordedEvent]] = {stream: [] for stream in wanted}
        if not wanted:
            return streams
        for stored in select_streams(self.recorder, wanted):
            streams[cast(UUID, stored.originator_id)].append(self._decode(stored, None))
        return streams

    def stream_version(self, stream_id: UUID) -> int:
        """The stream's latest version, 0 if it has no events."""
        last = self.recorder.select_events(stream_id, desc=True, limit=1)
        return last[0].originator_version if last else 0

    def notifications(
        self, start: int, limit: int, topics: Sequence[str] = (), *, stop: int | None = None
    ) -> list[RecordedEvent]:
        """Events with notification id >= ``start`` (and <= ``stop`` when given), in notification
        order, at most ``limit``; ``topics`` filters by event type.

        Gap-free for tailing readers: ids are handed out in commit order, so once id N is
        visible every id below N is committed (visible) or rolled back (never will be). On
        Postgres the library guarantees this by inserting under an EXCLUSIVE table lock (plain
        bigserial ids may commit out of order); on SQLite the single writer lock does it.
        """
        rows = self.recorder.select_notifications(start, limit, stop=stop, topics=list(topics))
        return [self._decode(n, n.id) for n in rows]

    def max_notification_id(self) -> int | None:
        return self.recorder.max_notification_id()

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.recorder.max_tracking_id(application_name)

    def has_tracking(self, application_name: str, notification_id: int) -> bool:
        """True if ``application_name`` has recorded ``notification_id`` or a later position."""
        return self.recorder.has_tracking_id(application_name, notification_id)

    # -- encoding ------------------------------------------------------------------------------

    def _body(self, event: NewEvent, recorded_at: datetime) -> bytes:
        """The plaintext of the stored state (encrypted with the cipher, when there is one)."""
        # The trace that caused the event travels with it, so the relay can hand it on to Kafka.
        metadata = {**current_headers(), **event.metadata}
        return canonical_json({"data": event.data, "metadata": metadata, "recorded_at": recorded_at})

    def _decode(self, stored: StoredEvent, notification_id: int | None) -> RecordedEvent:
        try:
            state = self._cipher.decrypt(stored.state) if self._cipher else stored.state
        except Exception as error:
            raise DecodeError(
                f"cannot decode event {stored.originator_id} v{stored.originator_version}"
            ) from error
        return _recorded(cast(UUID, stored.originator_id), stored.originator_version, stored.topic, state,
                         notification_id)


def _recorded(stream_id: UUID, version: int, type_: str, state: bytes, notification_id: int | None) -> RecordedEvent:
    try:
        body: dict[str, Any] = load_json(state)
        recorded_at = datetime.fromisoformat(body["recorded_at"])
    except Exception as error:
        raise DecodeError(f"cannot decode event {stream_id} v{version}") from error
    return RecordedEvent(
        stream_id=stream_id,
        version=version,
        type=type_,
        data=body["data"],
        metadata=body["metadata"],
        recorded_at=recorded_at,
        notification_id=notification_id,
    )


def _some(names: Iterable[str], shown: int = 5) -> str:
    listed = list(names)
    more = f" and {len(listed) - shown} more" if len(listed) > shown else ""
    return ", ".join(listed[:shown]) + more
