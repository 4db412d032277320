"""The transactional outbox relay: notification log → message bus, at least once, in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from eventsourcing.persistence import Tracking

from cbec.bus.limits import record_size, topic_limit
from cbec.bus.ports import Message, Publisher
from cbec.store.errors import AlreadyProcessed
from cbec.store.event_store import EventStore
from cbec.store.events import RecordedEvent
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

    Each round reads the notifications after the recorded position, publishes every routed
    message, flushes (waits for the broker's acks) and only then records the new position as
    tracking ``outbox:<name>`` in the service's own database. A crash between flush and record
    republishes the round: consumers dedupe (see :func:`tracking_for`). Because the log is
    gap-free for readers, an event that commits late can never fall behind the position.
    Run one relay per service; a second one only causes duplicates.

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
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._route = route
        self._max_message_bytes = max_message_bytes
        self._too_large = too_large
        self.name = name
        self.tracking_name = f"outbox:{name}"
        self._position: int | None = None

    def position(self) -> int:
        """The last notification id published and recorded (0 before the first)."""
        if self._position is None:
            self._position = self._store.max_tracking_id(self.tracking_name) or 0
        return self._position

    def run_once(self, limit: int = 500) -> int:
        """Publish up to ``limit`` new events; return how many notifications were relayed."""
        after = self.position()
        events = self._store.notifications(after + 1, limit)
        if not events:
            return 0
        try:
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
        except BaseException:
            self._position = None  # re-read the recorded position next time
            raise
        last = events[-1].notification_id
        assert last is not None
        try:
            self._store.record_tracking(Tracking(self.tracking_name, last))
        except AlreadyProcessed:
            self._position = None  # another relay is ahead of us; resume from its position
            return len(events)
        self._position = last
        return len(events)

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
        """Close the publisher, if it is one that closes (once the last round is over)."""
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
