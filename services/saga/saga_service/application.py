"""The saga's use cases over its own event store: observe events, record facts, fire deadlines, answer queries.

Each handled message is one transaction: the saga events of every instance it touches (a
clearance and, for entry lists, the instances it joins) commit together with the message's
tracking position, so a redelivered message changes nothing. Commands and status messages leave
through the outbox (:func:`route`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cbec.bus.ports import Message
from cbec.clock import Clock, SystemClock
from cbec.contracts import saga, topics
from cbec.contracts.base import ContractError, as_ceb_error
from cbec.contracts.commands import GoodsLeft
from cbec.contracts.events import DeclarationEvent
from cbec.contracts.status import CLEARANCE_ALERT, STATUS_CHANGED, StatusMessage
from cbec.declaration import owners
from cbec.errors import CebError
from cbec.store.errors import AlreadyProcessed
from cbec.store.event_store import EventStore
from cbec.store.events import Append, NewEvent, RecordedEvent
from cbec.store.handling import retry_on_conflict
from cbec.store.outbox import tracking_for
from cbec.tenants import Role, TenantRegistry
from eventsourcing.persistence import Tracking

from saga_service import domain, entry_join
from saga_service.domain import Clearance, Decision, Policy

log = logging.getLogger(__name__)

NAME = "saga"
SAGA_NAMESPACE = uuid.UUID("0b7d2c3e-93a4-4f0e-8d53-5a7c1e2f4b60")
EVENT_TOPICS = topics.SERVICE_EVENTS
INPUT_TOPICS = (*EVENT_TOPICS, topics.GOODS_LEFT)
NOT_A_PARTY = "CBEC-1006"


def input_topics(tenants: TenantRegistry, *, shared_goods_left: bool = True) -> tuple[str, ...]:
    """The events topics and the goods-left topics: one per site operator of the registry (bound to it
    by ACLs) and, in development only, the shared one whose recorder nobody vouches for."""
    own = tuple(topics.tenant_goods_left(t.customs_code) for t in tenants.all() if Role.SITE_OPERATOR in t.roles)
    return (*EVENT_TOPICS, *((topics.GOODS_LEFT,) if shared_goods_left else ()), *own)


def stream_of(key: str) -> uuid.UUID:
    return uuid.uuid5(SAGA_NAMESPACE, f"saga:{key}")


@dataclass
class _Touched:
    state: Clearance
    base_version: int
    events: list[Decision]


class SagaApp:
    """The process manager behind ``cbec run saga``; the embedded demo runs it in process."""

    def __init__(self, store: EventStore, *, policy: Policy | None = None, clock: Clock | None = None,
                 name: str = NAME, retries: int = 10, cache_size: int = 10_000) -> None:
        self.store = store
        self.policy = policy or Policy()
        self.clock: Clock = clock or SystemClock()
        self.name = name
        self.retries = retries
        self.cache_size = cache_size
        self.deadlines: dict[str, datetime] = {}
        self._deadline_lock = threading.Lock()  # the consumer and the ticking poller share it
        # One unit of work at a time: cached states are mutated while deciding (an LRU of folds).
        self._work_lock = threading.RLock()
        self._cache: dict[str, Clearance] = {}
        self._rebuild_deadlines()

    # -- queries -------------------------------------------------------------------------------
    def load(self, key: str) -> Clearance:
        return domain.fold(key, [(e.type, e.data) for e in self.store.read(stream_of(key))])

    def view(self, key: str) -> dict[str, Any]:
        """Which document waits for what, each document's status and receipts."""
        return self.load(key).view(self.policy.gate)

    # -- handling messages -----------------------------------------------------------------------
    def handle(self, message: Message) -> None:
        """Bus entry point: an events-topic envelope or a RecordGoodsLeft command."""
        self.handle_batch([message])

    def handle_batch(self, messages: Sequence[Message]) -> None:
        """Consecutive messages of one partition in one transaction, with the last one's tracking.

        A redelivered message changes nothing: the domain ignores an upstream event whose stream
        version it has already folded, and a batch whose last position is recorded is skipped.
        """
        if not messages:
            return

        def work(uow: _UnitOfWork, now: datetime) -> None:
            for message in messages:
                self._step(uow, message, now)

        self._run(work, tracking_for(self.name, messages[-1]))

    def _step(self, uow: _UnitOfWork, message: Message, now: datetime) -> None:
        try:
            goods_left, recorder = topics.goods_left_binding(message.topic)
            if goods_left:
                self._goods_left_step(uow, GoodsLeft.from_json(message.value).clearance_key, now, recorder)
            else:
                self._observe_step(uow, DeclarationEvent.from_json(message.value), now)
        except ContractError as bad:
            # Dead-lettered to cbec.dlq.saga by the consumer (the batch is redone without it).
            log.warning("saga: unreadable message on %s@%d: %s", message.topic, message.offset, bad)
            raise

    def observe(self, event: DeclarationEvent, tracking: Tracking | None = None) -> list[Decision]:
        """Fold one declaration event into its clearance and act on it."""
        return self._run(lambda uow, now: self._observe_step(uow, event, now), tracking).get(event.clearance_key, [])

    def goods_left(self, key: str, tracking: Tracking | None = None) -> list[Decision]:
        """The goods of ``key`` left the zone or site: cancels are refused, returns allowed from now on."""
        return self._run(lambda uow, now: self._goods_left_step(uow, key, now), tracking).get(key, [])

    def _observe_step(self, uow: _UnitOfWork, event: DeclarationEvent, now: datetime) -> None:
        key = event.clearance_key
        if not key or domain.kind_of(event.doc_type) is None:
            return
        touched = uow.get(key)
        touched.events += domain.observe(touched.state, event, now, self.policy)
        entry_join.join(uow, key, now, self.policy)

    def _goods_left_step(self, uow: _UnitOfWork, key: str, now: datetime, recorder: str | None = None) -> None:
        """``recorder``: the site operator whose own topic the fact came on (None: the shared topic)."""
        touched = uow.get(key)
        if recorder is not None and not domain.may_record_goods_left(touched.state, recorder):
            raise ContractError([CebError(
                NOT_A_PARTY, "clearanceKey", "tenancy",
                f"{recorder} is not a party of clearance {key}: only its own senders or the site operator of an"
                " entry list covering it report its goods leaving")])
        touched.events += domain.record_goods_left(touched.state, now, self.policy)

    def tick(self) -> int:
        """Fire every deadline that is due; returns how many instances acted."""
        now = self.clock.now()
        acted = 0
        with self._deadline_lock:
            due_now = sorted((due, key) for key, due in self.deadlines.items() if due <= now)
        for _, key in due_now:

            def work(uow: _UnitOfWork, at: datetime, key: str = key) -> None:
                touched = uow.get(key)
                touched.events += domain.tick(touched.state, at, self.policy)

            if self._run(work, None).get(key):
                acted += 1
        return acted

    # -- persistence -------------------------------------------------------------------------------
    def _run(self, work: Callable[[_UnitOfWork, datetime], None],
             tracking: Tracking | None) -> dict[str, list[Decision]]:
        with self._work_lock:
            return retry_on_conflict(lambda: self._attempt(work, tracking), self.retries, "saga")

    def _attempt(self, work: Callable[[_UnitOfWork, datetime], None],
                 tracking: Tracking | None) -> dict[str, list[Decision]]:
        uow = _UnitOfWork(self)
        try:
            work(uow, self.clock.now())
            uow.commit(tracking)
        except AlreadyProcessed:
            self._forget(uow)
            return {}
        except BaseException:
            self._forget(uow)
            raise
        for k, touched in uow.touched.items():
            self._remember(k, touched.state)
            self._schedule(k, touched.state)
        return {k: t.events for k, t in uow.touched.items()}

    def _state(self, key: str) -> Clearance:
        """The instance's state: the cached fold caught up with the store (another process may write)."""
        cached = self._cache.pop(key, None)
        if cached is None:
            return self.load(key)
        for event in self.store.read(stream_of(key), after_version=cached.version):
            cached.apply(event.type, event.data)
        return cached

    def _remember(self, key: str, state: Clearance) -> None:
        self._cache[key] = state
        while len(self._cache) > self.cache_size:
            self._cache.pop(next(iter(self._cache)))

    def _forget(self, uow: _UnitOfWork) -> None:
        for key in uow.touched:
            self._cache.pop(key, None)

    def _schedule(self, key: str, state: Clearance) -> None:
        due = domain.next_deadline(state, self.policy)
        with self._deadline_lock:
            if due is None:
                self.deadlines.pop(key, None)
            else:
                self.deadlines[key] = due

    def _rebuild_deadlines(self) -> None:
        keys: set[str] = set()
        start = 1
        while True:
            batch = self.store.notifications(start, 1000, topics=[domain.OBSERVED])
            if not batch:
                break
            keys.update(str(e.data["event"].get("clearanceKey", "")) for e in batch)
            start = (batch[-1].notification_id or start) + 1
        for key in keys - {""}:
            self._schedule(key, self.load(key))


class _UnitOfWork:
    """The instances one message touches, loaded once and committed together."""

    def __init__(self, app: SagaApp) -> None:
        self.app = app
        self.touched: dict[str, _Touched] = {}

    def get(self, key: str) -> _Touched:
        if key not in self.touched:
            state = self.app._state(key)
            self.touched[key] = _Touched(state, state.version, [])
        return self.touched[key]

    def commit(self, tracking: Tracking | None) -> None:
        appends = [
            Append(stream_of(k), t.base_version, [NewEvent(type_, data) for type_, data in t.events])
            for k, t in self.touched.items() if t.events
        ]
        if appends or tracking is not None:
            self.app.store.append_batch(appends, tracking=tracking)


# -- the outbox route ------------------------------------------------------------------------------
_COMMANDS = {
    domain.RELEASE_ISSUED: saga.RELEASE,
    domain.RESEND_ISSUED: saga.RESEND,
    domain.REFUSAL_ISSUED: saga.REFUSE,
    domain.LOCK_ISSUED: saga.LOCK,
}


def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
    """Saga commands to the ``cbec.feedback.<service>.saga-commands`` of the service owning the document
    (a lock to every service whose types it locks); status changes and alerts to ``cbec.out.status`` and
    to the tenant's ``cbec.out.status.<code>``."""
    data = event.data
    key = str(data.get("clearanceKey", ""))
    command = _COMMANDS.get(event.type)
    if command is not None:
        message = saga.SagaCommand(command, str(data["commandId"]), key, str(data.get("docType", "")),
                                   tuple(str(k) for k in data.get("businessKey", [])),
                                   tuple(as_ceb_error(e) for e in data.get("errors", [])))
        owner = owners.owner_of(message.doc_type)
        to = owners.LOCK_OWNERS if command == saga.LOCK else (owner,) if owner is not None else ()
        return [(topics.feedback(service, topics.FEEDBACK_COMMANDS), key, message.to_json()) for service in to]
    if event.type in (domain.STATUS_PUBLISHED, domain.ALERT_RAISED):
        status = status_message(event)
        out = [(topics.STATUS, key, status.to_json())]
        if topics.is_customs_code(status.tenant):  # the tenant's own copy, the only one it may read
            out.append((topics.tenant_status(status.tenant), key, status.to_json()))
        return out
    return []


def status_message(event: RecordedEvent) -> StatusMessage:
    data = event.data
    alert = event.type == domain.ALERT_RAISED
    return StatusMessage(
        type=CLEARANCE_ALERT if alert else STATUS_CHANGED,
        message_id=f"{event.stream_id}:{event.version}",
        tenant=str(data.get("tenant", "")),
        clearance_key=str(data.get("clearanceKey", "")),
        doc_type=str(data.get("docType", "")),
        business_key=[str(k) for k in data.get("businessKey", [])],
        status="alert" if alert else str(data["status"]),
        status_code=data.get("statusCode"),
        phase=str(data.get("phase", "")),
        reason=str(data.get("reason", "")),
        at=str(data.get("at", "")),
        errors=list(data.get("errors", [])),
    )


def policy_from(gate: int, receipt_timeout_s: float, max_resends: int, receipt_max_skew_s: float = 600.0) -> Policy:
    if gate not in (2, 120):
        raise ValueError(f"the saga gate is 120 (customs accepted) or 2 (declaring at e-port), not {gate}")
    return Policy(gate=gate, receipt_timeout=timedelta(seconds=receipt_timeout_s), max_resends=max_resends,
                  receipt_max_skew=timedelta(seconds=receipt_max_skew_s))


def status_messages(store: EventStore, *, tenant: str | None = None,
                    since: int = 1) -> Sequence[tuple[int, StatusMessage]]:
    """Every status message the saga ever published (optionally for one tenant), for replays."""
    out: list[tuple[int, StatusMessage]] = []
    start = since
    while True:
        batch = store.notifications(start, 1000, topics=[domain.STATUS_PUBLISHED, domain.ALERT_RAISED])
        if not batch:
            return out
        for event in batch:
            message = status_message(event)
            if tenant is None or message.tenant == tenant:
                out.append((event.notification_id or 0, message))
        start = (batch[-1].notification_id or start) + 1
