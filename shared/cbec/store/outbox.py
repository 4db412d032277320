"""The transactional outbox relay: notification log → message bus, at least once, in order."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence

from eventsourcing.persistence import Tracking

from cbec.bus.limits import record_size, topic_limit
from cbec.bus.ports import Message, Publisher
from cbec.store.errors import AlreadyProcessed
from cbec.store.event_store import Committed, EventStore
from cbec.store.events import RecordedEvent
from cbec.store.leases import Lease
from cbec.telemetry import TRACE_HEADERS

log = logging.getLogger(__name__)

Route = Callable[[RecordedEvent], list[tuple[str, str, bytes]]]
"""Maps one stored event to the (topic, key, value) messages that announce it (maybe none)."""

TooLarge = Callable[[RecordedEvent, str, str, int, int], list[tuple[str, str, bytes]]]
"""What to publish instead of a message above the size limit: ``(event, topic, key, size, limit)`` →
(topic, key, value) messages (a dead letter; for a sign request also a failed sign result)."""

SOURCE_HEADER = "cbec-source"
NOTIFICATION_HEADER = "cbec-notification-id"


class OutboxRelay:
    """Publishes a service's events in notification order and remembers how far it got.

    Each round takes the events after the recorded position, publishes every routed message,
    flushes (waits for the broker's acks) and only then records the new position as tracking
    ``outbox:<name>`` in the service's own database. A crash between flush and record republishes
    the round: consumers dedupe (see :func:`tracking_for`). Because the log is gap-free for
    readers, an event that commits late can never fall behind the position.

    Hand-off: the relay listens to its store's commits (``EventStore.on_commit``), so the events its
    own process commits reach it in memory, with their notification ids, and it wakes at once
    (``wakeup``). It publishes them without reading them back when they continue its position
    (id = position + 1, + 2 …). Anything else is read from the log: the ids between its position
    and the first handed event (a commit by another process, rolled-back ids, a commit whose
    hand-off is still on its way; all settled, since ids are handed out in commit order), and the
    whole log after the position when it may hold more (at start, after a failed round, on a
    notification of another process's commit, every ``safety_net`` seconds, after a full round).
    The hand-off is bounded (``max_handed``); past it, the log is read instead.

    Replicas: with a ``lease`` (``cbec.store.leases``) only its holder publishes; a new term
    re-reads the position. Without one, run one relay per store: a second one only causes duplicates.

    :meth:`run_once` always catches up (the log when nothing continues the position), for callers
    that step the relay themselves; :meth:`step` with :meth:`idle` and ``wakeup`` is the round of a
    process runtime that waits for commits (``cbec.runtime.Paced``).

    With ``max_message_bytes``, each message is checked on its own before it is published: one
    larger than its topic accepts (``cbec.bus.limits``) is replaced by what ``too_large`` returns
    (by default nothing, logged as an error) and the relay moves on, so one oversized entry never
    holds back the entries after it.
    """

    def __init__(
        self,
        store: EventStore,
        publisher: Publisher,
        *,
        name: str,
        route: Route,
        max_message_bytes: int | None = None,
        too_large: TooLarge | None = None,
        lease: Lease | None = None,
        safety_net: float = 5.0,
        max_handed: int = 2000,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._route = route
        self._max_message_bytes = max_message_bytes
        self._too_large = too_large
        self._lease = lease
        self._safety_net = safety_net
        self._max_handed = max_handed
        self.name = name
        self.tracking_name = f"outbox:{name}"
        self.wakeup = threading.Event()
        self._position: int | None = None
        self._handed: dict[int, Committed] = {}
        self._handed_lock = threading.Lock()
        self._accepting = lease is None
        self._stale = True  # the log may hold events not handed to us
        self._next_check = 0.0
        self._term = 0
        self._foreign = 0
        self.log_reads = 0  # how often a round read the log (for tests and measurements)
        store.on_commit(self._committed)
        if lease is not None:
            lease.watch(self.wakeup)

    def position(self) -> int:
        """The last notification id published and recorded (0 before the first)."""
        if self._position is None:
            self._position = self._store.max_tracking_id(self.tracking_name) or 0
        return self._position

    def run_once(self, limit: int = 500) -> int:
        """Publish up to ``limit`` new events; return how many notifications were relayed."""
        return self._round(limit, read_log=True)

    def step(self, limit: int = 500) -> int:
        """One round of a runtime that waits on ``wakeup``: the handed-off events, and the log only
        when it may hold more. Returns how many were relayed while more may be waiting, else 0 (a
        commit during the round has set ``wakeup``, so nothing waits for the next wake-up)."""
        if not self._holding():
            return 0
        due = time.monotonic() >= self._next_check
        relayed = self._round(limit, read_log=self._stale or due)
        more = relayed >= limit or self._stale or bool(self._handed)
        return relayed if more else 0

    def idle(self) -> float:
        """How long an idle relay may sleep: until the safety-net read of the log (a standby until its
        next try for the lease; the lease wakes it when taken)."""
        if not self._holding():
            return self._safety_net
        return max(0.0, self._next_check - time.monotonic())

    def _holding(self) -> bool:
        lease = self._lease
        if lease is None:
            return True
        if not lease.held():
            self._accepting = False
            with self._handed_lock:
                self._handed.clear()
            return False
        if lease.generation != self._term:  # a new term: the last holder may have moved the position
            self._term = lease.generation
            self._position = None
            self._stale = True
            self._accepting = True
        if lease.foreign_commits != self._foreign:
            self._foreign = lease.foreign_commits
            self._stale = True
        return True

    def _committed(self, committed: Sequence[Committed]) -> None:
        if not self._accepting:
            return
        with self._handed_lock:
            if not committed or len(self._handed) + len(committed) > self._max_handed:
                self._handed.clear()
                self._stale = True  # read the log instead
            else:
                for event in committed:
                    self._handed[event.notification_id] = event
        self.wakeup.set()

    def _round(self, limit: int, *, read_log: bool) -> int:
        after = self.position()
        try:
            events = self._next_events(after, limit, read_log=read_log)
            if not events:
                return 0
            self._publish(events)
        except BaseException:
            self._position = None  # re-read the recorded position next time
            self._stale = True
            raise
        last = events[-1].notification_id
        assert last is not None
        try:
            self._store.record_tracking(Tracking(self.tracking_name, last))
        except AlreadyProcessed:
            self._position = None  # another relay is ahead of us; resume from its position
            self._stale = True
            return len(events)
        self._position = last
        return len(events)

    def _next_events(self, after: int, limit: int, *, read_log: bool) -> list[RecordedEvent]:
        with self._handed_lock:
            for done in [nid for nid in self._handed if nid <= after]:
                del self._handed[done]
            first = min(self._handed, default=None)
        if first == after + 1:
            return self._take(after, limit)
        if first is None and not read_log:
            return []
        self.log_reads += 1
        if first is None:  # the whole log after the position
            self._stale = False
            self._next_check = time.monotonic() + self._safety_net
            events = self._store.notifications(after + 1, limit)
            if len(events) >= limit:
                self._stale = True  # more waits (never cleared here: an overflow meanwhile still counts)
            return events
        # The ids before the first handed event are settled: committed (read them) or rolled back.
        events = self._store.notifications(after + 1, limit, stop=first - 1)
        if len(events) >= limit:
            return events
        return events + self._take(first - 1, limit - len(events))

    def _take(self, after: int, limit: int) -> list[RecordedEvent]:
        """The handed-off events that continue ``after`` without a gap (at most ``limit``)."""
        taken: list[Committed] = []
        with self._handed_lock:
            while len(taken) < limit and (event := self._handed.pop(after + len(taken) + 1, None)) is not None:
                taken.append(event)
        return [event.event() for event in taken]

    def _publish(self, events: list[RecordedEvent]) -> None:
        for event in events:
            headers = {
                SOURCE_HEADER: self.name,
                NOTIFICATION_HEADER: str(event.notification_id),
                "cbec-event-type": event.type,
                "cbec-stream-id": str(event.stream_id),
                "cbec-stream-version": str(event.version),
                **{k: v for k, v in event.metadata.items() if k in TRACE_HEADERS},
            }
            for topic, key, value in self._checked(event, self._route(event), headers):
                self._publisher.publish(topic, key, value, headers)
        self._publisher.flush()

    def _checked(
        self, event: RecordedEvent, messages: list[tuple[str, str, bytes]], headers: dict[str, str]
    ) -> list[tuple[str, str, bytes]]:
        limit = self._max_message_bytes
        if limit is None:
            return messages
        out: list[tuple[str, str, bytes]] = []
        for topic, key, value in messages:
            size = record_size(key, value, headers)
            allowed = topic_limit(topic, limit)
            if size <= allowed:
                out.append((topic, key, value))
                continue
            log.error("outbox %s: notification %s (%s) makes a message of %d bytes for %s, above %d; "
                      "dead-lettered", self.name, event.notification_id, event.type, size, topic, allowed)
            if self._too_large is not None:
                out += [m for m in self._too_large(event, topic, key, size, allowed)
                        if record_size(m[1], m[2], headers) <= topic_limit(m[0], limit)]
        return out

    def close(self) -> None:
        """Give up the lease and close the publisher, if it is one that closes (once the last round is over)."""
        if self._lease is not None:
            self._lease.close()
        close = getattr(self._publisher, "close", None)
        if close is not None:
            close()

    async def run_forever(
        self,
        poll_interval: float = 0.05,
        *,
        limit: int = 500,
        stop: asyncio.Event | None = None,
        error_pause: float = 1.0,
    ) -> None:
        """Relay until cancelled (or ``stop`` is set), polling when idle and pausing on errors."""
        while stop is None or not stop.is_set():
            try:
                relayed = await asyncio.to_thread(self.run_once, limit)
            except Exception as error:
                log.warning("outbox %s: relay round failed (%s); retrying", self.name, type(error).__name__)
                await asyncio.sleep(error_pause)
                continue
            if relayed < limit:
                await asyncio.sleep(poll_interval)


def tracking_for(consumer: str, message: Message) -> Tracking:
    """The tracking position that marks ``message`` as processed by ``consumer``.

    Messages from an outbox relay carry their source's notification id, which increases
    within each partition; a copy republished after a relay crash repeats an id at or below
    the recorded maximum, so it is recognised as done. Other messages use the Kafka
    offset, which only dedupes redelivery of the same message. Record it with the effect:
    ``store.append(..., tracking=tracking_for("saga", message))``.
    """
    source = message.headers.get(SOURCE_HEADER)
    notification_id = message.headers.get(NOTIFICATION_HEADER)
    if source is not None and notification_id is not None:
        return Tracking(f"{consumer}|{source}|{message.topic}/{message.partition}", int(notification_id))
    return Tracking(f"{consumer}|{message.topic}/{message.partition}", message.offset)
