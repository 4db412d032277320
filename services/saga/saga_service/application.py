"""The saga's use cases over its own event store: observe events, record facts, fire deadlines, answer queries.

A consumer's poll batch (one partition's share) is one transaction: the saga events of every
instance it touches (a clearance and, for entry lists, the instances it joins) commit together
with the batch's tracking position and the touched instances' rows of the deadline index
(:mod:`saga_service.schedule`), so a redelivered message changes nothing and a deadline is never
stored apart from the state it follows from. Commands and status messages leave through the
outbox (:func:`route`).

Folded states are cached between messages and trusted without re-reading the stream: a writer
that folded a stale state (another replica wrote meanwhile) appends at a version that exists
already, its transaction fails with ``ConcurrencyError`` and is redone from the store. A stale
state can only make the saga decide *more* (a version it thinks unseen, a fact it thinks new), so
it never keeps quiet where a fresh one would act. Deadlines are the exception: a tick reads the
stream's tail first, since "nothing is due" would write nothing to conflict on.

Deadlines fire from :attr:`SagaApp.ticker` (a :class:`cbec.runtime.Paced` poller): it sleeps
until the earliest due row (at most ``max_idle``) and is woken when a commit schedules an earlier
one. With several replicas each due row is claimed (:meth:`Schedule.claim`) by one of them; a
double fire would be harmless anyway, the second commit conflicting with the first.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
from cbec.runtime import Paced
from cbec.store.errors import AlreadyProcessed
from cbec.store.event_store import EventStore
from cbec.store.events import Append, NewEvent, RecordedEvent
from cbec.store.handling import retry_on_conflict
from cbec.store.outbox import tracking_for
from cbec.telemetry import consuming, current_headers
from cbec.tenants import Role, TenantRegistry
from eventsourcing.persistence import Tracking

from saga_service import domain, entry_join, export_join
from saga_service.domain import Clearance, Decision, Policy
from saga_service.export_rules import ExportPolicy
from saga_service.metrics import CommitObserver, in_turn
from saga_service.schedule import Entry, Schedule

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
    indexed: datetime | None  # the deadline index row of the state as loaded (the committed one)
    claimed: bool = False  # a tick holds the row: write it whatever the outcome
    trace: dict[str, str] = field(default_factory=dict)  # the span of the message that decided its events
    snapshots: list[Any] = field(default_factory=list)  # each commit observer's, of the state as loaded


@dataclass(frozen=True, slots=True)
class _Observed:
    """One decoded input message."""

    event: DeclarationEvent | None = None
    goods_left: str = ""  # the clearance key of a goods-left fact
    recorder: str | None = None

    @property
    def key(self) -> str:
        return domain.instance_key(self.event) if self.event is not None else self.goods_left


class SagaApp:
    """The process manager behind ``cbec run saga``; the embedded demo runs it in process."""

    def __init__(self, store: EventStore, *, policy: Policy | None = None, clock: Clock | None = None,
                 name: str = NAME, retries: int = 10, cache_size: int = 10_000, max_idle: float = 5.0,
                 claim_for: timedelta = timedelta(minutes=1), tick_batch: int = 200) -> None:
        self.store = store
        self.policy = policy or Policy()
        self.clock: Clock = clock or SystemClock()
        self.name = name
        self.retries = retries
        self.cache_size = cache_size
        self.max_idle = max_idle
        self.claim_for = claim_for
        self.tick_batch = tick_batch
        # One unit of work at a time: cached states are mutated while deciding (an LRU of folds).
        self._work_lock = threading.RLock()
        self._cache: dict[str, Clearance] = {}
        self.index = Schedule(store, "deadlines")
        if self.index.created:
            self._backfill()  # a store written before the index existed: once per database
        self.wakeup = threading.Event()
        self._next_lock = threading.Lock()
        first = self.index.first(1)
        self._next_due: datetime | None = first[0].due if first else None  # what the ticker sleeps until
        self.ticker = Paced(self.tick, self.idle, self.wakeup)
        self.observers: list[CommitObserver] = []  # rows written with each commit, told what it recorded

    # -- queries -------------------------------------------------------------------------------
    def load(self, key: str) -> Clearance:
        return domain.fold(key, [(e.type, e.data) for e in self.store.read(stream_of(key))], self.policy.export)

    def view(self, key: str) -> dict[str, Any]:
        """Which document waits for what, each document's status and receipts."""
        return self.load(key).view(self.policy.gate)

    @property
    def deadlines(self) -> dict[str, datetime]:
        """Every scheduled deadline, from the index (each clearance's earliest one)."""
        return {e.item: e.due for e in self.index.all()}

    # -- handling messages -----------------------------------------------------------------------
    def handle(self, message: Message) -> None:
        """Bus entry point: an events-topic envelope or a RecordGoodsLeft command."""
        self.handle_batch([message])

    def handle_batch(self, messages: Sequence[Message]) -> None:
        """Consecutive messages of one partition in one transaction, with the last one's tracking.

        Each message is decoded once; the instances the batch names and the cache lacks are read in
        one query. A redelivered message changes nothing: the domain ignores an upstream event whose
        stream version it has already folded, and a batch whose last position is recorded is skipped.
        """
        if not messages:
            return
        observed = [self._decode(m) for m in messages]

        def work(uow: _UnitOfWork, now: datetime) -> None:
            for item, message in zip(observed, messages, strict=True):
                # A span per message, child of its producer's: the events it decides carry it on.
                with consuming(message.topic, message.partition, message.offset, message.headers):
                    if item.event is not None:
                        self._observe_step(uow, item.event, now)
                    else:
                        self._goods_left_step(uow, item.goods_left, now, item.recorder)
                    decided_in = current_headers()  # also for the instances it joined (entry lists, indexes)
                    for key, touched in uow.touched.items():
                        if key == item.key or not touched.trace:
                            touched.trace = decided_in

        with self._work_lock:
            self._prefetch({o.key for o in observed if o.key})
            self._run(work, tracking_for(self.name, messages[-1]))

    def _decode(self, message: Message) -> _Observed:
        try:
            goods_left, recorder = topics.goods_left_binding(message.topic)
            if goods_left:
                return _Observed(goods_left=GoodsLeft.from_json(message.value).clearance_key, recorder=recorder)
            return _Observed(event=DeclarationEvent.from_json(message.value))
        except ContractError as bad:
            # Dead-lettered to cbec.dlq.saga by the consumer (the batch is redone without it).
            log.warning("saga: unreadable message on %s@%d: %s", message.topic, message.offset, bad)
            raise

    def observe(self, event: DeclarationEvent, tracking: Tracking | None = None) -> list[Decision]:
        """Fold one declaration event into its clearance and act on it."""
        return self._run(lambda uow, now: self._observe_step(uow, event, now),
                         tracking).get(domain.instance_key(event), [])

    def goods_left(self, key: str, tracking: Tracking | None = None) -> list[Decision]:
        """The goods of ``key`` left the zone or site: cancels are refused, returns allowed from now on."""
        return self._run(lambda uow, now: self._goods_left_step(uow, key, now), tracking).get(key, [])

    def _observe_step(self, uow: _UnitOfWork, event: DeclarationEvent, now: datetime) -> None:
        key = domain.instance_key(event)
        if not key or domain.kind_of(event.doc_type) is None:
            return
        touched = uow.get(key)
        decided = domain.observe(touched.state, event, now, self.policy)
        if decided:
            touched.events += decided
            entry_join.join(uow, key, now, self.policy)
            export_join.join(uow, key, now, self.policy)

    def _goods_left_step(self, uow: _UnitOfWork, key: str, now: datetime, recorder: str | None = None) -> None:
        """``recorder``: the site operator whose own topic the fact came on (None: the shared topic)."""
        touched = uow.get(key)
        if recorder is not None and not domain.may_record_goods_left(touched.state, recorder):
            raise ContractError([CebError(
                NOT_A_PARTY, "clearanceKey", "tenancy",
                f"{recorder} is not a party of clearance {key}: only its own senders or the site operator of an"
                " entry list covering it report its goods leaving")])
        touched.events += domain.record_goods_left(touched.state, now, self.policy)

    # -- deadlines -------------------------------------------------------------------------------
    def tick(self) -> int:
        """Fire every deadline that is due (``tick_batch`` rows a query); returns how many instances acted."""
        now = self.clock.now()
        acted = 0
        while True:  # a page at a time: fired or claimed rows are no longer due
            entries = self.index.first(self.tick_batch)
            due = [e for e in entries if e.due <= now]
            with self._next_lock:
                self._next_due = next((e.due for e in entries if e.due > now), None)
            for entry in due:
                claim = now + self.claim_for
                if self.index.claim(entry, claim):  # else another replica (or a commit) got there first
                    acted += self._fire(entry.item, claim)
            if len(due) < self.tick_batch:
                return acted

    def idle(self) -> float:
        """How long the ticker may sleep: until the earliest deadline it knows, at most ``max_idle``."""
        with self._next_lock:
            due = self._next_due
        if due is None:
            return self.max_idle
        return min(self.max_idle, max(0.0, (due - self.clock.now()).total_seconds()))

    def _fire(self, key: str, claimed: datetime) -> int:
        def work(uow: _UnitOfWork, at: datetime) -> None:
            touched = uow.get(key, fresh=True)
            touched.claimed = True
            touched.events += domain.tick(touched.state, at, self.policy)

        if self._run(work, None).get(key):
            return 1  # the commit rewrote the row
        with self._work_lock:
            state = self._cache.get(key) or self.load(key)
        due = domain.next_deadline(state, self.policy)
        self.index.settle(key, claimed, Entry(key, due) if due is not None else None)
        return 0

    def _scheduled(self, changes: dict[str, datetime | None]) -> None:
        """After a commit: wake the ticker if it sleeps past a newly scheduled deadline."""
        earliest = min((d for d in changes.values() if d is not None), default=None)
        if earliest is None:
            return
        with self._next_lock:
            if self._next_due is None or earliest < self._next_due:
                self._next_due = earliest
                self.wakeup.set()

    def _backfill(self) -> None:
        """Index the deadlines of a store written before the index existed (a scan of the log, once)."""
        keys: set[str] = set()
        start = 1
        while batch := self.store.notifications(start, 1000, topics=[domain.OBSERVED]):
            keys.update(str(e.data["event"].get("clearanceKey", "")) for e in batch)
            start = (batch[-1].notification_id or start) + 1
        changes: dict[str, Entry | None] = {}
        for key in keys - {""}:
            due = domain.next_deadline(self.load(key), self.policy)
            if due is not None:
                changes[key] = Entry(key, due)
        if changes:
            self.store.append_batch([], also=self.index.writes(changes))
        log.info("saga: indexed %d deadlines of %d clearances", len(changes), len(keys))

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
            changes = uow.commit(tracking)
        except AlreadyProcessed:
            self._forget(uow)
            return {}
        except BaseException:
            self._forget(uow)
            raise
        for k, touched in uow.touched.items():
            self._remember(k, touched.state)
        for observer in self.observers:
            observer.committed([e for t in uow.touched.values() for e in t.events])
        self._scheduled(changes)
        return {k: t.events for k, t in uow.touched.items()}

    def _state(self, key: str, *, fresh: bool = False) -> Clearance:
        """The instance's state: the cached fold (``fresh``: caught up with the store first), else the store's."""
        cached = self._cache.pop(key, None)
        if cached is None:
            return self.load(key)
        if fresh:
            for event in self.store.read(stream_of(key), after_version=cached.version):
                cached.apply(event.type, event.data)
        return cached

    def _prefetch(self, keys: set[str]) -> None:
        """Fold the instances of ``keys`` the cache lacks, then their waybill index instances (which every
        message of a clearance with a waybill touches): at most two queries for a batch."""
        self._fold_missing(keys)
        numbers = {entry_join.logistics_no(self._cache[k]) for k in keys if k in self._cache}
        self._fold_missing({entry_join.waybill_index(n) for n in numbers if n})

    def _fold_missing(self, keys: set[str]) -> None:
        missing = [k for k in keys if k not in self._cache]
        if not missing:
            return
        streams = self.store.read_many(stream_of(k) for k in missing)
        for key in missing:
            self._remember(key, domain.fold(key, [(e.type, e.data) for e in streams[stream_of(key)]],
                                            self.policy.export))

    def _remember(self, key: str, state: Clearance) -> None:
        self._cache[key] = state
        while len(self._cache) > self.cache_size:
            self._cache.pop(next(iter(self._cache)))

    def _forget(self, uow: _UnitOfWork) -> None:
        for key in uow.touched:
            self._cache.pop(key, None)


class _UnitOfWork:
    """The instances one batch touches, loaded once and committed together."""

    def __init__(self, app: SagaApp) -> None:
        self.app = app
        self.touched: dict[str, _Touched] = {}

    def get(self, key: str, *, fresh: bool = False) -> _Touched:
        if key not in self.touched:
            state = self.app._state(key, fresh=fresh)
            self.touched[key] = _Touched(state, state.version, [],
                                         domain.next_deadline(state, self.app.policy),
                                         snapshots=[o.snapshot(state) for o in self.app.observers])
        return self.touched[key]

    def commit(self, tracking: Tracking | None) -> dict[str, datetime | None]:
        """Append the decided events, the tracking and the changed index rows in one transaction;
        returns the index changes (instance key → its deadline, None: none)."""
        appends = [
            Append(stream_of(k), t.base_version, [NewEvent(type_, data, t.trace) for type_, data in t.events])
            for k, t in self.touched.items() if t.events
        ]
        changes: dict[str, datetime | None] = {}
        for key, touched in self.touched.items():
            if touched.events or touched.claimed:
                due = domain.next_deadline(touched.state, self.app.policy)
                if due != touched.indexed or touched.claimed:
                    changes[key] = due
        if not appends and tracking is None:
            return {}
        also = self.app.index.writes({k: Entry(k, d) if d is not None else None for k, d in changes.items()}) \
            if changes else None
        changed = {k: t.state for k, t in self.touched.items() if t.events}
        also = in_turn(also, *(o.writes(changed, {k: self.touched[k].snapshots[i] for k in changed})
                                for i, o in enumerate(self.app.observers)))
        self.app.store.append_batch(appends, tracking=tracking, also=also)
        return changes


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
        followed = domain.FOLLOWED.get(message.doc_type)
        owner = followed.service if followed is not None else None
        to = owners.LOCK_OWNERS if command == saga.LOCK else (owner,) if owner is not None else ()
        return [(topics.feedback(service, topics.FEEDBACK_COMMANDS), key, message.to_json()) for service in to]
    if event.type in (domain.STATUS_PUBLISHED, domain.ALERT_RAISED):
        status = status_message(event)
        body = status.to_json()
        out = [(topics.STATUS, key, body)]
        if topics.is_customs_code(status.tenant):  # the tenant's own copy, the only one it may read
            out.append((topics.tenant_status(status.tenant), key, body))
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


def policy_from(gate: int, receipt_timeout_s: float, max_resends: int, receipt_max_skew_s: float = 600.0,
                export_collection: str = "") -> Policy:
    """The saga's policy from its settings (``export_collection``: the trade modes whose export list waits for
    a 收款单, comma-separated)."""
    if gate not in (2, 120):
        raise ValueError(f"the saga gate is 120 (customs accepted) or 2 (declaring at e-port), not {gate}")
    modes = frozenset(m.strip() for m in export_collection.split(",") if m.strip())
    unknown = modes - {"9610", "9710", "9810", "1210", "*"}
    if unknown:
        raise ValueError(f"CBEC_SAGA_EXPORT_COLLECTION names no export trade mode: {', '.join(sorted(unknown))}")
    return Policy(gate=gate, receipt_timeout=timedelta(seconds=receipt_timeout_s), max_resends=max_resends,
                  receipt_max_skew=timedelta(seconds=receipt_max_skew_s), export=ExportPolicy(modes))


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
