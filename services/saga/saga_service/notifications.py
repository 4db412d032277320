"""The notification service: every status message of a tenant (``cbec.out.status``) becomes a stored
notification it can pull (``GET /v1/notifications``) and, when it has a callback URL, is pushed to it in
order through a per-tenant circuit breaker.

Push, per tenant, oldest first:

* 2xx: delivered; the next one goes at once.
* 5xx, 408, 429, a timeout or any transport error (or no HMAC key configured): the tenant is
  **blocked**. Later notifications queue behind the failed one, which alone is retried, as the
  probe, after a backoff that grows with each failed probe (``backoff`` doubling up to
  ``max_backoff``). The probe's 2xx unblocks the tenant and its queue drains in order; an operator
  may unblock it at once (:meth:`Notifier.unblock`, ``cbec notifications unblock``).
* Any other 4xx, a redirect, or a callback address the guard refuses (a name that does not resolve
  counts as down, not refused): the callback answered, and
  retrying this one cannot help. The notification is **parked** (state ``failed``, still pulled,
  counted, and dead-lettered to ``cbec.dlq.webhooks``) and the next one goes on; a blocked tenant
  is unblocked, since its endpoint is up.

Each block (a circuit opened, or a probe failed) and each unblock (closed) is stored as a
:class:`cbec.contracts.circuits.CircuitChanged` for ``cbec.ops.notification-circuits``
(:mod:`saga_service.circuits`), which the console's operator view reads.

Pull is always available, for every tenant (push or not): notifications are numbered per tenant and
paged by cursor; acknowledging one that push has not delivered yet takes it off the push queue.
Notifications are kept ``retention`` (30 days by default), then pruned by :attr:`Notifier.pruner`.

Every notification has a stable id (from the status message's id: a redelivered message is the same
notification) and a correlation id (the clearance key and the id of the saga event behind it);
pushes carry both in headers next to the HMAC signature of :mod:`saga_service.webhooks`.

Replicas: a tenant's queue is claimed (``claim_for``) by one replica at a time, so one tenant never
sees two pushes at once or out of order. The waits between probes are ``tenacity``'s exponential
strategy; the loop itself is the persisted schedule here, since a probe must survive a restart.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from cbec.bus.ports import Message
from cbec.clock import Clock, SystemClock
from cbec.contracts.base import ContractError
from cbec.contracts.dead_letter import WebhookDeadLetter
from cbec.contracts.status import StatusMessage
from cbec.net.callbacks import CallbackRefused, Unresolvable
from cbec.runtime import Paced
from cbec.store.errors import ConcurrencyError
from cbec.store.event_store import EventStore
from cbec.store.events import Append, NewEvent
from cbec.tenants import TenantRegistry
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from tenacity import RetryCallState, Retrying, wait_exponential

from saga_service import circuits, webhooks
from saga_service.notification_store import (
    DELIVERED,
    FAILED,
    PULL_ONLY,
    QUEUED,
    NewNotification,
    Notification,
    NotificationStore,
    TenantState,
)

log = logging.getLogger(__name__)

NOTIFICATION_NAMESPACE = uuid.UUID("8f3b7c1e-5a2d-4e9f-b6c0-2d7e9a1f4c53")
NOTIFICATION_HEADER = "X-Cbec-Notification-Id"
CORRELATION_HEADER = "X-Cbec-Correlation-Id"
RETRIED_4XX = frozenset({408, 429})  # "try again later": the tenant is blocked like on a 5xx


def notification_id(tenant: str, delivery_id: str) -> str:
    """The stable id of ``delivery_id`` (a status message id, ``#tag`` for a replay) for ``tenant``."""
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{tenant}|{delivery_id}"))


def correlation_id(status: StatusMessage) -> str:
    """The clearance key and the saga event behind the message: ``<clearanceKey>/<eventId>``."""
    return f"{status.clearance_key}/{status.message_id}"


class Outcome:
    """What one push attempt means for the queue."""

    DELIVERED = "delivered"
    RETRY = "retry"  # block the tenant; this one is the probe
    PARK = "park"  # give this one up; the next goes on


def classify(code: int) -> str:
    if 200 <= code < 300:
        return Outcome.DELIVERED
    if code >= 500 or code in RETRIED_4XX or code <= 0:
        return Outcome.RETRY
    return Outcome.PARK


class Metrics:
    """Per-tenant counters (queued, delivered, failed, blocks) and gauges (backlog, blocked) on the
    process's OpenTelemetry meter provider (a no-op one unless the process installed a provider)."""

    def __init__(self, provider: MeterProvider | None, states: Callable[[], list[TenantState]]) -> None:
        meter = (provider or metrics.get_meter_provider()).get_meter("cbec.notifications")
        self.queued = meter.create_counter("cbec.notifications.queued", description="notifications stored")
        self.delivered = meter.create_counter("cbec.notifications.delivered", description="pushes answered 2xx")
        self.failed = meter.create_counter("cbec.notifications.failed", description="notifications parked")
        self.blocks = meter.create_counter("cbec.notifications.probes_failed",
                                           description="pushes that blocked (or kept blocked) a tenant")
        self._states = states
        meter.create_observable_gauge("cbec.notifications.backlog", [self._backlog],
                                      description="notifications waiting for push")
        meter.create_observable_gauge("cbec.notifications.blocked", [self._blocked],
                                      description="1 while the tenant's callback is blocked")

    def _read(self) -> list[TenantState]:
        try:
            return self._states()
        except Exception as exc:  # noqa: BLE001 - a metrics read never breaks the process
            log.warning("notifications: metrics read failed: %s", type(exc).__name__)
            return []

    def _backlog(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(s.queued, {"tenant": s.tenant}) for s in self._read()]

    def _blocked(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(int(s.blocked), {"tenant": s.tenant}) for s in self._read()]


class Notifier:
    """Stores, pushes, serves and prunes notifications; see the module docstring."""

    def __init__(self, store: NotificationStore, tenants: TenantRegistry, secret_for: Callable[[str], bytes], *,
                 post: webhooks.Post | None = None, clock: Clock | None = None,
                 backoff: timedelta = timedelta(seconds=2), max_backoff: timedelta = timedelta(minutes=10),
                 retention: timedelta = timedelta(days=30), prune_every: float = 3600.0,
                 prune_batch: int = 1000, max_idle: float = 5.0, claim_for: timedelta = timedelta(minutes=1),
                 drain_batch: int = 100, events: EventStore | None = None,
                 meter_provider: MeterProvider | None = None) -> None:
        self.store = store
        self.tenants = tenants
        self.secret_for = secret_for
        self.post = post or webhooks.httpx_post()
        self.clock: Clock = clock or SystemClock()
        self.retention = retention
        self.prune_every = prune_every
        self.prune_batch = prune_batch
        self.max_idle = max_idle
        self.claim_for = claim_for
        self.drain_batch = drain_batch
        self.events = events  # where parked notifications are dead-lettered (None: not)
        self._wait = wait_exponential(multiplier=backoff.total_seconds(), max=max_backoff.total_seconds())
        self.metrics = Metrics(meter_provider, store.states)
        self._lock = threading.Lock()
        self._next_due: datetime | None = None
        self.wakeup = threading.Event()
        self.pacer = Paced(self.poll, self.idle, self.wakeup)
        self.pruner = Paced(self.prune, lambda: self.prune_every)

    # -- intake ----------------------------------------------------------------------------------
    def handle(self, message: Message) -> None:
        """Bus entry point (``cbec.out.status``); a redelivered message changes nothing."""
        self.handle_batch([message])

    def handle_batch(self, messages: Sequence[Message]) -> None:
        """Bus entry point for a consumer poll's messages: stored in one transaction."""
        statuses: list[StatusMessage] = []
        for message in messages:
            try:
                statuses.append(StatusMessage.from_json(message.value))
            except ContractError as bad:  # nothing to notify: the saga publishes only valid messages
                log.warning("notifications: unreadable status message at %s@%d: %s", message.topic,
                            message.offset, bad)
        self._add(statuses)

    def add(self, status: StatusMessage, *, replay: str = "") -> bool:
        """Store one notification (queued for push when the tenant has a callback URL); False when the
        tenant is unknown or the notification is stored already."""
        return self._add([status], replay=replay) == 1

    def _add(self, statuses: Sequence[StatusMessage], *, replay: str = "") -> int:
        """Store the notifications of ``statuses`` in one transaction; how many were new."""
        items: list[NewNotification] = []
        now = self.clock.now()
        for status in statuses:
            if status.tenant not in self.tenants:
                log.warning("notifications: status message %s for an unregistered tenant", status.message_id)
                continue
            push = bool(self.tenants.get(status.tenant).callback_url)
            delivery = status.message_id + (f"#{replay}" if replay else "")
            items.append(NewNotification(
                tenant=status.tenant, notification_id=notification_id(status.tenant, delivery),
                correlation_id=correlation_id(status), clearance_key=status.clearance_key,
                event_id=status.message_id, business_key=tuple(status.business_key),
                body=status.to_json().decode(), created=now, state=QUEUED if push else PULL_ONLY))
        if not items:
            return 0
        added = 0
        pushed = False
        for item, seq in zip(items, self.store.add_many(items), strict=True):
            if seq is None:
                continue
            added += 1
            self.metrics.queued.add(1, {"tenant": item.tenant})
            pushed = pushed or item.state == QUEUED
        if pushed:
            self._expect(self.clock.now())
        return added

    def replay(self, statuses: Sequence[StatusMessage], *, tag: str | None = None) -> int:
        """Notify these (already published) status messages again, as new notifications."""
        tag = tag or f"replay-{uuid.uuid4().hex[:8]}"
        return self._add(statuses, replay=tag)

    # -- push ----------------------------------------------------------------------------------------
    def poll(self) -> int:
        """Push what is due, tenant by tenant; returns how many pushes were attempted."""
        now = self.clock.now()
        attempted = 0
        for tenant in self.store.due_tenants(now, 1000):
            if self.store.claim(tenant, now, now + self.claim_for):  # else another replica has it
                try:
                    attempted += self._drain(tenant, now)
                finally:
                    self.store.release(tenant)
        next_due = self.store.next_due()  # read here, in the round, so a failing database fails a round
        with self._lock:
            self._next_due = next_due
        return attempted

    def idle(self) -> float:
        """How long the pusher may sleep: until the earliest probe or claim the last round saw, at most
        ``max_idle`` (a notification stored here wakes it; one stored by another replica, or an unblock
        from the CLI, is seen within ``max_idle``)."""
        with self._lock:
            due = self._next_due
        if due is None:
            return self.max_idle
        return min(self.max_idle, max(0.0, (due - self.clock.now()).total_seconds()))

    def _expect(self, due: datetime) -> None:
        with self._lock:
            if self._next_due is None or due < self._next_due:
                self._next_due = due
        self.wakeup.set()

    def _drain(self, tenant: str, now: datetime) -> int:
        attempted = 0
        state = self.store.tenant(tenant)
        blocked, probes = (state.blocked, state.probes) if state is not None else (False, 0)
        since = state.blocked_since if state is not None and blocked else None
        # Stop well inside the claim, so a slow callback never outlives it and meets a second pusher.
        stop_at = now + self.claim_for / 2
        while attempted < self.drain_batch and (attempted == 0 or self.clock.now() < stop_at):
            item = self.store.oldest_queued(tenant)
            if item is None:
                break
            url = self.tenants.get(tenant).callback_url if tenant in self.tenants else ""
            if not url:  # the callback was removed since: pull only
                self.store.settle(item, PULL_ONLY, now)
                continue
            outcome, error = self._push(item, url)
            attempted += 1
            if outcome == Outcome.RETRY:
                probes += 1
                due = now + timedelta(seconds=self._backoff(probes))
                self.store.settle(item, QUEUED, now, error)
                probes = self.store.block(tenant, now, due, error)
                circuits.record(self.events, circuits.opened(tenant, now, since, due, probes, error))
                self.metrics.blocks.add(1, {"tenant": tenant})
                log.warning("notifications: tenant %s blocked (%s); probe %d due %s", tenant, error, probes,
                            due.isoformat())
                break
            if outcome == Outcome.DELIVERED:
                self.store.settle(item, DELIVERED, now)
                self.metrics.delivered.add(1, {"tenant": tenant})
            else:
                self._dead_letter(item, url, error)
                self.store.settle(item, FAILED, now, error)
                self.metrics.failed.add(1, {"tenant": tenant})
                log.warning("notifications: %s of tenant %s parked: %s", item.notification_id, tenant, error)
            if blocked and self.store.unblock(tenant):  # the endpoint answered: it is up again
                blocked, probes = False, 0
                circuits.record(self.events, circuits.closed(tenant, self.clock.now()))
                log.info("notifications: tenant %s unblocked by its probe's answer", tenant)
        return attempted

    def _backoff(self, probes: int) -> float:
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = probes
        return float(self._wait(state))

    def _push(self, item: Notification, url: str) -> tuple[str, str]:
        body = item.body.encode()
        try:
            secret = self.secret_for(item.tenant)
            headers = {"Content-Type": "application/json", webhooks.SIGNATURE_HEADER: webhooks.sign(secret, body),
                       "X-Cbec-Message-Id": item.event_id, "X-Cbec-Delivery-Id": item.notification_id,
                       NOTIFICATION_HEADER: item.notification_id, CORRELATION_HEADER: item.correlation_id}
            code = self.post(url, body, headers)
        except Unresolvable as exc:  # the name does not resolve now: down, like a refused connection
            return Outcome.RETRY, str(exc)
        except CallbackRefused as exc:  # the destination is not allowed: retrying cannot help
            return Outcome.PARK, f"refused: {exc}"
        except LookupError as exc:  # no HMAC key: a configuration to fix, then the probe goes through
            return Outcome.RETRY, str(exc)
        except Exception as exc:  # noqa: BLE001 - a timeout or transport failure: the endpoint is down
            return Outcome.RETRY, type(exc).__name__
        outcome = classify(code)
        return outcome, "" if outcome == Outcome.DELIVERED else f"HTTP {code}"

    def _dead_letter(self, item: Notification, url: str, error: str) -> None:
        if self.events is None:
            return
        letter = WebhookDeadLetter(
            delivery_id=item.notification_id, message_id=item.event_id, tenant=item.tenant, url=url,
            body=item.body, due=item.created.isoformat(), attempts=item.attempts + 1, error=error)
        stream = uuid.uuid5(NOTIFICATION_NAMESPACE, f"dead-letter|{item.notification_id}")
        try:
            self.events.append_batch([Append(stream, 0, [NewEvent(webhooks.DEAD_LETTERED, letter.to_dict())])])
        except ConcurrencyError:
            pass  # dead-lettered before a restart: once is enough

    # -- operators ---------------------------------------------------------------------------------
    def count(self, tenant: str | None = None) -> list[TenantState]:
        """Each tenant's backlog and breaker (or one tenant's)."""
        return self.store.states(tenant)

    def unblock(self, tenant: str) -> bool:
        """Let a blocked tenant's queue drain now (its oldest notification goes first); True when it was blocked."""
        done = self.store.unblock(tenant)
        if done:
            log.info("notifications: tenant %s unblocked by an operator", tenant)
            circuits.record(self.events, circuits.closed(tenant, self.clock.now()))
            self._expect(self.clock.now())
        return done

    def announce_circuits(self) -> int:
        """Store every known tenant's circuit as it is now (at start: a change stored just after its block
        or unblock is lost by a crash between the two; this one repairs the operator view). Returns how
        many were stored."""
        if self.events is None:
            return 0
        now = self.clock.now()
        states = self.store.states()
        for state in states:
            if state.blocked:
                due = state.probe_due or now
                circuits.record(self.events, circuits.opened(state.tenant, now, state.blocked_since, due,
                                                             state.probes, state.last_error))
            else:
                circuits.record(self.events, circuits.closed(state.tenant, now))
        return len(states)

    # -- pull ----------------------------------------------------------------------------------------
    def page(self, tenant: str, after: int, limit: int, *, pending: bool = False) -> list[Notification]:
        return self.store.page(tenant, after, limit, pending=pending)

    def acknowledge(self, tenant: str, notification: str) -> bool:
        return self.store.acknowledge(tenant, notification, self.clock.now())

    # -- retention -------------------------------------------------------------------------------------
    def prune(self) -> int:
        """Delete notifications older than the retention (``prune_batch`` a round: a full round runs
        again at once, an empty one sleeps ``prune_every``)."""
        removed = self.store.prune(self.clock.now() - self.retention, self.prune_batch)
        if removed:
            log.info("notifications: pruned %d older than %s", removed, self.retention)
        return removed


def view(item: Notification, cursor: str) -> dict[str, Any]:
    """A notification as the pull API shows it."""
    return {
        "notificationId": item.notification_id,
        "cursor": cursor,
        "correlationId": item.correlation_id,
        "correlation": {"clearanceKey": item.clearance_key, "businessKey": list(item.business_key),
                        "eventId": item.event_id},
        "createdAt": item.created.isoformat(),
        "delivery": {"state": item.state, "attempts": item.attempts,
                     "deliveredAt": item.delivered.isoformat() if item.delivered else None},
        "acknowledgedAt": item.acknowledged.isoformat() if item.acknowledged else None,
        "message": json.loads(item.body),
    }
