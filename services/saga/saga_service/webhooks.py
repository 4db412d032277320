"""Status messages POSTed to each tenant's callback URL: HMAC-signed, retried with backoff,
dead-lettered after ``max_attempts`` failures, and replayable from the store.

The receiver checks ``X-Cbec-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with the
tenant's own secret and dedupes by ``X-Cbec-Message-Id`` (a replay repeats the id).

The process's transport is :func:`guarded_post`: each send resolves the callback host, checks every
address (:mod:`cbec.net.callbacks`) and connects to the checked one, with the host name kept for
``Host`` and TLS. A refused destination is dead-lettered at once with the rule it breaks.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cbec.bus.ports import Message
from cbec.clock import Clock, SystemClock
from cbec.contracts import topics
from cbec.contracts.base import ContractError
from cbec.contracts.dead_letter import WebhookDeadLetter
from cbec.contracts.status import StatusMessage
from cbec.net.callbacks import CallbackGuard, CallbackRefused
from cbec.runtime import Paced
from cbec.store.errors import AlreadyProcessed, ConcurrencyError
from cbec.store.event_store import EventStore
from cbec.store.events import Append, NewEvent, RecordedEvent
from cbec.store.handling import mark_handled
from cbec.store.outbox import tracking_for
from cbec.tenants import TenantRegistry
from eventsourcing.persistence import Tracking

from saga_service.schedule import Entry, Schedule

log = logging.getLogger(__name__)

SCHEDULED = "WebhookScheduled"
ATTEMPTED = "WebhookAttempted"
DELIVERED = "WebhookDelivered"
DEAD_LETTERED = "WebhookDeadLettered"
DLQ_TOPIC = topics.WEBHOOK_DEAD_LETTERS
SIGNATURE_HEADER = "X-Cbec-Signature"
WEBHOOK_NAMESPACE = uuid.UUID("5d0c8f8e-1f6b-4a55-9d2e-8b5e3c7a9f21")

Post = Callable[[str, bytes, dict[str, str]], int]
"""POST ``body`` to ``url`` with ``headers``; return the HTTP status (raise on a transport error)."""


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature)


def httpx_post(timeout: float = 5.0) -> Post:
    """A plain POST with no destination check (tests against a local receiver); processes use
    :func:`guarded_post`."""
    import httpx

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        return httpx.post(url, content=body, headers=headers, timeout=timeout).status_code

    return post


Send = Callable[[str, bytes, dict[str, str], str], int]
"""POST ``body`` to a URL whose host is an IP address, with ``headers``, naming ``server_name`` in TLS."""


def httpx_send(timeout: float = 5.0) -> Send:
    """:data:`Send` with httpx: no redirects followed, no proxy from the environment, the certificate
    checked against ``server_name``."""
    import httpx

    def send(url: str, body: bytes, headers: dict[str, str], server_name: str) -> int:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            response = client.post(url, content=body, headers=headers, extensions={"sni_hostname": server_name})
            return response.status_code

    return send


def guarded_post(guard: CallbackGuard, timeout: float = 5.0, send: Send | None = None) -> Post:
    """:data:`Post` to allowed destinations only: resolve once, check every address, connect to the
    first checked one (raises :class:`~cbec.net.callbacks.CallbackRefused`)."""
    transport = send or httpx_send(timeout)

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        target = guard.resolve(url)
        return transport(target.pinned_url(), body, {**headers, "Host": target.host_header}, target.host)

    return post


class WebhookNotifier:
    """Delivers ``cbec.out.status`` messages to tenants' callback URLs, at least once.

    Each open delivery is a row of the schedule ``webhooks`` (:mod:`saga_service.schedule`): its
    next attempt, written in the transaction of the delivery's events and deleted with its last one.
    A start reads no log; :meth:`poll` reads the earliest rows, claims each due one (so replicas on
    one schema do not both POST it) and attempts it. :attr:`pacer` is the poller: it sleeps until the
    earliest attempt (at most ``max_idle``, for rows another process wrote, e.g. a replay) and wakes
    when a delivery is scheduled.
    """

    def __init__(self, store: EventStore, tenants: TenantRegistry, secret_for: Callable[[str], bytes], *,
                 post: Post | None = None, clock: Clock | None = None, max_attempts: int = 6,
                 backoff: timedelta = timedelta(seconds=2), max_backoff: timedelta = timedelta(minutes=10),
                 name: str = "webhooks", max_idle: float = 5.0, claim_for: timedelta = timedelta(minutes=1),
                 poll_batch: int = 100) -> None:
        self.store = store
        self.tenants = tenants
        self.secret_for = secret_for
        self.post = post or httpx_post()
        self.clock: Clock = clock or SystemClock()
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.name = name
        self.max_idle = max_idle
        self.claim_for = claim_for
        self.poll_batch = poll_batch
        self.index = Schedule(store, "webhooks")
        if self.index.created:
            self._backfill()  # a store written before the schedule existed: once per database
        # The WebhookScheduled data of deliveries scheduled here, so their first attempt reads nothing.
        self._scheduled: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()  # the consumer schedules while the poller delivers
        first = self.index.first(1)
        self._next_due: datetime | None = first[0].due if first else None
        self.wakeup = threading.Event()
        self.pacer = Paced(self.poll, self.idle, self.wakeup)

    @property
    def pending(self) -> dict[str, Entry]:
        """The open deliveries (delivery id → its next attempt), from the schedule."""
        return {e.item: e for e in self.index.all()}

    # -- intake ----------------------------------------------------------------------------------
    def handle(self, message: Message) -> None:
        tracking = tracking_for(self.name, message)
        try:
            status = StatusMessage.from_json(message.value)
        except ContractError as bad:  # nothing to deliver: the saga publishes only valid messages
            log.warning("webhooks: unreadable status message at %s: %s", tracking.notification_id, bad)
            self._mark(tracking)
            return
        self.schedule(status, tracking)

    def schedule(self, status: StatusMessage, tracking: Tracking | None = None, *, replay: str = "") -> bool:
        """Queue one delivery; False when the tenant has no callback URL (or it was queued already)."""
        tenant = self.tenants.get(status.tenant) if status.tenant in self.tenants else None
        if tenant is None or not tenant.callback_url:
            self._mark(tracking)
            return False
        delivery_id = status.message_id + (f"#{replay}" if replay else "")
        stream = uuid.uuid5(WEBHOOK_NAMESPACE, delivery_id)
        now = self.clock.now()
        data = {"deliveryId": delivery_id, "messageId": status.message_id, "tenant": status.tenant,
                "url": tenant.callback_url, "body": status.to_json().decode(), "due": now.isoformat()}
        try:
            self.store.append_batch([Append(stream, 0, [NewEvent(SCHEDULED, data)])], tracking=tracking,
                                    also=self.index.writes({delivery_id: Entry(delivery_id, now, 0, 1)}))
        except (AlreadyProcessed, ConcurrencyError):
            return False
        with self._lock:
            self._scheduled[delivery_id] = data
            while len(self._scheduled) > 10_000:  # attempted by another replica: read back when needed
                self._scheduled.pop(next(iter(self._scheduled)))
        self._expect(now, wake=True)
        return True

    def replay(self, statuses: list[StatusMessage], *, tag: str | None = None) -> int:
        """Deliver these (already published) status messages again, e.g. from
        :func:`saga_service.application.status_messages`."""
        tag = tag or f"replay-{uuid.uuid4().hex[:8]}"
        return sum(self.schedule(s, replay=tag) for s in statuses)

    # -- delivering --------------------------------------------------------------------------------
    def poll(self) -> int:
        """Attempt the deliveries that are due (``poll_batch`` rows a query); returns how many were attempted."""
        now = self.clock.now()
        attempted = 0
        while True:  # a page at a time: attempted or claimed rows are no longer due
            entries = self.index.first(self.poll_batch)
            due = [e for e in entries if e.due <= now]
            with self._lock:
                self._next_due = next((e.due for e in entries if e.due > now), None)
            for entry in due:
                if self.index.claim(entry, now + self.claim_for):  # else another replica has it
                    self._attempt(entry, now)
                    attempted += 1
            if len(due) < self.poll_batch:
                return attempted

    def idle(self) -> float:
        """How long the poller may sleep: until the earliest attempt it knows of, at most ``max_idle``."""
        with self._lock:
            earliest = self._next_due
        if earliest is None:
            return self.max_idle
        return min(self.max_idle, max(0.0, (earliest - self.clock.now()).total_seconds()))

    def _expect(self, due: datetime, *, wake: bool) -> None:
        with self._lock:
            if self._next_due is None or due < self._next_due:
                self._next_due = due
                if wake:
                    self.wakeup.set()

    def _attempt(self, entry: Entry, now: datetime) -> None:
        delivery_id = entry.item
        stream = uuid.uuid5(WEBHOOK_NAMESPACE, delivery_id)
        with self._lock:
            scheduled = self._scheduled.get(delivery_id)
        if scheduled is None:
            scheduled = self.store.read(stream)[0].data
        body = str(scheduled["body"]).encode()
        attempt = entry.attempts + 1
        refused = False
        try:
            secret = self.secret_for(str(scheduled["tenant"]))
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body),
                       "X-Cbec-Message-Id": str(scheduled["messageId"]), "X-Cbec-Delivery-Id": delivery_id}
            code = self.post(str(scheduled["url"]), body, headers)
            error = "" if 200 <= code < 300 else f"HTTP {code}"
        except CallbackRefused as exc:  # the destination is not allowed: retrying cannot help
            code, error, refused = 0, f"refused: {exc}", True
            log.warning("webhook %s: %s", delivery_id, exc)
        except Exception as exc:  # noqa: BLE001 - any transport failure is retried
            code, error = 0, type(exc).__name__
        events = [NewEvent(ATTEMPTED, {"attempt": attempt, "status": code, "error": error, "at": now.isoformat()})]
        if not error:
            events.append(NewEvent(DELIVERED, {"deliveryId": delivery_id, "attempts": attempt}))
        elif refused or attempt >= self.max_attempts:
            letter = WebhookDeadLetter(
                delivery_id=delivery_id, message_id=str(scheduled["messageId"]),
                tenant=str(scheduled["tenant"]), url=str(scheduled["url"]), body=str(scheduled["body"]),
                due=str(scheduled["due"]), attempts=attempt, error=error)
            events.append(NewEvent(DEAD_LETTERED, letter.to_dict()))
            log.warning("webhook %s dead-lettered after %d attempts", delivery_id, attempt)
        done = len(events) > 1
        due = now + min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        row = None if done else Entry(delivery_id, due, attempt, entry.version + len(events))
        try:
            self.store.append_batch([Append(stream, entry.version, events)],
                                    also=self.index.writes({delivery_id: row}))
        except ConcurrencyError:
            return  # another notifier attempted it meanwhile; its commit wrote the row
        if done:
            with self._lock:
                self._scheduled.pop(delivery_id, None)
        else:
            self._expect(due, wake=False)  # this is the poller: it asks idle() next

    def dead_letters(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        start = 1
        while batch := self.store.notifications(start, 1000, topics=[DEAD_LETTERED]):
            out += [e.data for e in batch]
            start = (batch[-1].notification_id or start) + 1
        return out

    # -- helpers -----------------------------------------------------------------------------------
    def _backfill(self) -> None:
        """Schedule the open deliveries of a store written before the schedule existed (a log scan, once)."""
        changes: dict[str, Entry | None] = {}
        start = 1
        while batch := self.store.notifications(start, 1000, topics=[SCHEDULED]):
            for event in batch:
                stream = self.store.read(event.stream_id)
                if stream[-1].type == ATTEMPTED:
                    attempts = sum(1 for e in stream if e.type == ATTEMPTED)
                    due = self.clock.now()
                elif stream[-1].type == SCHEDULED:
                    attempts, due = 0, datetime.fromisoformat(str(event.data["due"]))
                else:
                    continue
                delivery_id = str(event.data["deliveryId"])
                changes[delivery_id] = Entry(delivery_id, due, attempts, len(stream))
            start = (batch[-1].notification_id or start) + 1
        if changes:
            self.store.append_batch([], also=self.index.writes(changes))

    def _mark(self, tracking: Tracking | None) -> None:
        mark_handled(self.store.record_tracking, tracking)


def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
    """Dead-lettered deliveries go to ``cbec.dlq.webhooks`` for people to look at."""
    if event.type == DEAD_LETTERED:
        letter = WebhookDeadLetter.stored(event.data)
        return [(DLQ_TOPIC, letter.key, letter.to_json())]
    return []
