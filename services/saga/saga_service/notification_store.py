"""Where the saga keeps every tenant's notifications and each tenant's delivery state (SQLAlchemy Core,
tables in the saga's own database and schema, next to its event store).

``<service>_notifications``: one row per notification, numbered per tenant (``seq``, the pull cursor),
its correlation and its push state. ``<service>_notification_tenants``: per tenant the last number
given out, the circuit breaker (blocked since when, the probe's next attempt, how many probes failed)
and a claim, so that only one replica delivers a tenant's queue at a time.

Invariants:

* Numbers come from the tenant row's counter, incremented in the inserting transaction: concurrent
  writers for one tenant queue on that row, so a tenant's rows become visible in ``seq`` order and a
  puller's cursor never skips a row committed late. Pruning never lowers the counter.
* A notification id is unique: adding one twice (a redelivered status message, a restart) is a no-op.
* Times are integer microseconds since the epoch (as in :mod:`saga_service.schedule`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cbec.readmodel.tables import postgres_engine
from cbec.store.event_store import EventStore
from cbec.store.recorders import connection_params
from eventsourcing.postgres import PostgresProcessRecorder
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.pool import StaticPool

from saga_service.schedule import from_micros, to_micros

QUEUED = "queued"  # waiting for push, oldest first
DELIVERED = "delivered"  # the callback answered 2xx
FAILED = "failed"  # parked: the callback refused it for good (a 4xx other than 408/429, a refused address)
PULL_ONLY = "pull"  # the tenant has no callback URL
PULLED = "pulled"  # acknowledged by pull before push got to it: taken off the push queue
STATES = (QUEUED, DELIVERED, FAILED, PULL_ONLY, PULLED)


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification of one tenant, as stored."""

    tenant: str
    seq: int
    notification_id: str
    correlation_id: str
    clearance_key: str
    event_id: str
    business_key: tuple[str, ...]
    body: str  # the status message JSON, the exact bytes a push signs
    created: datetime
    state: str
    attempts: int
    last_error: str
    delivered: datetime | None
    acknowledged: datetime | None


@dataclass(frozen=True, slots=True)
class NewNotification:
    """One notification to store (:meth:`NotificationStore.add_many`)."""

    tenant: str
    notification_id: str
    correlation_id: str
    clearance_key: str
    event_id: str
    business_key: tuple[str, ...]
    body: str
    created: datetime
    state: str


@dataclass(frozen=True, slots=True)
class TenantState:
    """A tenant's push state and backlog, as operators see it."""

    tenant: str
    blocked: bool
    blocked_since: datetime | None
    probe_due: datetime | None
    probes: int
    last_error: str
    queued: int
    failed: int

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "blocked": self.blocked, "queued": self.queued, "failed": self.failed,
                "blockedSince": self.blocked_since.isoformat() if self.blocked_since else None,
                "nextProbe": self.probe_due.isoformat() if self.probe_due else None,
                "failedProbes": self.probes, "lastError": self.last_error}


class NotificationStore:
    """The two tables; every method is one short transaction."""

    def __init__(self, engine: Engine, *, service: str = "saga", schema: str | None = None,
                 create: bool = True) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.metadata = MetaData(schema=schema if self.postgres else None)
        self.notifications = Table(
            f"{service}_notifications", self.metadata,
            Column("tenant", String(40), primary_key=True),
            Column("seq", BigInteger, primary_key=True, autoincrement=False),
            Column("notification_id", String(200), nullable=False, unique=True),
            Column("correlation_id", String(400), nullable=False),
            Column("clearance_key", String(200), nullable=False),
            Column("event_id", String(200), nullable=False),
            Column("business_key", Text, nullable=False),
            Column("body", Text, nullable=False),
            Column("created", BigInteger, nullable=False),
            Column("state", String(20), nullable=False),
            Column("attempts", Integer, nullable=False, default=0),
            Column("last_error", String(300), nullable=False, default=""),
            Column("delivered", BigInteger, nullable=True),
            Column("acknowledged", BigInteger, nullable=True),
        )
        Index(f"{service}_notifications_created", self.notifications.c.created)
        # A tenant's queue in order, and its counts by state, without reading its delivered rows.
        Index(f"{service}_notifications_state", self.notifications.c.tenant, self.notifications.c.state,
              self.notifications.c.seq)
        self.tenants = Table(
            f"{service}_notification_tenants", self.metadata,
            Column("tenant", String(40), primary_key=True),
            Column("last_seq", BigInteger, nullable=False, default=0),
            Column("blocked", Integer, nullable=False, default=0),
            Column("blocked_since", BigInteger, nullable=True),
            Column("probe_due", BigInteger, nullable=True),
            Column("probes", Integer, nullable=False, default=0),
            Column("last_error", String(300), nullable=False, default=""),
            Column("claimed_until", BigInteger, nullable=False, default=0),
        )
        if create:  # else the migrations made them (cbec.migrations)
            self._create()

    @classmethod
    def beside(cls, store: EventStore) -> NotificationStore:
        """The notification tables next to ``store``'s (same database, schema and table prefix)."""
        recorder = store.recorder
        prefix = str(getattr(recorder, "events_table_name", "saga_events")).removesuffix("_events")
        schema = getattr(getattr(recorder, "datastore"), "schema", None)  # noqa: B009 - Postgres only
        return cls(engine_for(store), service=prefix, schema=str(schema) if schema else None,
                   create=store.creates_tables)

    def close(self) -> None:
        self.engine.dispose()

    def _create(self) -> None:
        try:
            self.metadata.create_all(self.engine, checkfirst=True)
        except (IntegrityError, ProgrammingError, OperationalError):  # a replica created them meanwhile
            self.metadata.create_all(self.engine, checkfirst=True)

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def _insert(self, table: Table) -> Any:
        return (postgresql.insert(table) if self.postgres else sqlite.insert(table))

    # -- adding ----------------------------------------------------------------------------------
    def add(self, *, tenant: str, notification_id: str, correlation_id: str, clearance_key: str, event_id: str,
            business_key: Sequence[str], body: str, created: datetime, state: str) -> int | None:
        """Store one notification; its number, or None when this id is stored already."""
        return self.add_many([NewNotification(tenant, notification_id, correlation_id, clearance_key, event_id,
                                              tuple(business_key), body, created, state)])[0]

    def add_many(self, items: Sequence[NewNotification]) -> list[int | None]:
        """Store several notifications in one transaction (a consumer poll's); for each its number, or
        None when its id is stored already (or came earlier in ``items``). A tenant's counter is
        raised once for all of its new ones, which are numbered in the order given; tenant rows are
        locked in name order, so two writers never wait on each other in a cycle."""
        n, t = self.notifications, self.tenants
        numbers: list[int | None] = [None] * len(items)
        with self._begin() as db:
            wanted = list(dict.fromkeys(item.notification_id for item in items))
            stored = set(db.execute(select(n.c.notification_id).where(n.c.notification_id.in_(wanted))).scalars())
            fresh: dict[str, int] = {}
            for index, item in enumerate(items):
                if item.notification_id not in stored and item.notification_id not in fresh:
                    fresh[item.notification_id] = index
            by_tenant: dict[str, list[int]] = {}
            for index in fresh.values():
                by_tenant.setdefault(items[index].tenant, []).append(index)
            if not by_tenant:
                return numbers
            tenants = sorted(by_tenant)
            db.execute(self._insert(t).on_conflict_do_nothing(index_elements=["tenant"]),
                       [{"tenant": tenant, "last_seq": 0, "blocked": 0, "probes": 0, "last_error": "",
                         "claimed_until": 0} for tenant in tenants])
            rows: list[dict[str, Any]] = []
            for tenant in tenants:
                indexes = by_tenant[tenant]
                last = int(db.execute(update(t).where(t.c.tenant == tenant)
                                      .values(last_seq=t.c.last_seq + len(indexes))
                                      .returning(t.c.last_seq)).scalar_one())
                for offset, index in enumerate(indexes):
                    item, seq = items[index], last - len(indexes) + 1 + offset
                    numbers[index] = seq
                    rows.append({"tenant": tenant, "seq": seq, "notification_id": item.notification_id,
                                 "correlation_id": item.correlation_id, "clearance_key": item.clearance_key,
                                 "event_id": item.event_id, "business_key": json.dumps(list(item.business_key)),
                                 "body": item.body, "created": to_micros(item.created), "state": item.state,
                                 "attempts": 0, "last_error": ""})
            # Without RETURNING the rows go as one prepared executemany. All of them are new unless a
            # replica stored one of these ids meanwhile: only then ask which rows are ours.
            written = db.execute(self._insert(n).on_conflict_do_nothing(index_elements=["notification_id"])
                                 .execution_options(preserve_rowcount=True), rows)
            if written.rowcount != len(rows):
                ours = {(r["tenant"], r["seq"]) for r in rows}
                found = db.execute(select(n.c.tenant, n.c.seq, n.c.notification_id)
                                   .where(n.c.notification_id.in_([r["notification_id"] for r in rows])))
                kept = {nid for tenant, seq, nid in found if (tenant, seq) in ours}
                numbers = [seq if items[i].notification_id in kept else None for i, seq in enumerate(numbers)]
        return numbers

    # -- pushing -----------------------------------------------------------------------------------
    def due_tenants(self, now: datetime, limit: int) -> list[str]:
        """Tenants with queued notifications whose turn it is: unblocked, or blocked with the probe due;
        not claimed by another replica."""
        n, t, at = self.notifications, self.tenants, to_micros(now)
        query = (select(t.c.tenant).where(
            t.c.claimed_until <= at, or_(t.c.blocked == 0, t.c.probe_due <= at),
            select(n.c.seq).where(n.c.tenant == t.c.tenant, n.c.state == QUEUED).exists(),
        ).order_by(t.c.tenant).limit(limit))
        with self._begin() as db:
            return [str(r[0]) for r in db.execute(query)]

    def next_due(self) -> datetime | None:
        """The earliest moment a tenant with queued notifications may be tried (None: nothing queued)."""
        n, t = self.notifications, self.tenants
        query = select(t.c.blocked, t.c.probe_due, t.c.claimed_until).where(
            select(n.c.seq).where(n.c.tenant == t.c.tenant, n.c.state == QUEUED).exists())
        with self._begin() as db:
            rows = db.execute(query).all()
        moments = [max(int(r.probe_due or 0) if r.blocked else 0, int(r.claimed_until)) for r in rows]
        return from_micros(min(moments)) if moments else None

    def claim(self, tenant: str, now: datetime, until: datetime) -> bool:
        """Hold ``tenant``'s queue until ``until`` unless another replica holds it now."""
        t = self.tenants
        with self._begin() as db:
            changed = db.execute(update(t).where(t.c.tenant == tenant, t.c.claimed_until <= to_micros(now))
                                 .values(claimed_until=to_micros(until)))
            return changed.rowcount == 1

    def release(self, tenant: str) -> None:
        with self._begin() as db:
            db.execute(update(self.tenants).where(self.tenants.c.tenant == tenant).values(claimed_until=0))

    def oldest_queued(self, tenant: str) -> Notification | None:
        n = self.notifications
        query = select(n).where(n.c.tenant == tenant, n.c.state == QUEUED).order_by(n.c.seq).limit(1)
        with self._begin() as db:
            row = db.execute(query).first()
        return _notification(row._mapping) if row is not None else None

    def settle(self, item: Notification, state: str, now: datetime, error: str = "") -> None:
        """Record one push attempt's end: ``state`` DELIVERED, FAILED, PULL_ONLY or QUEUED (to retry).
        A notification acknowledged meanwhile keeps its PULLED state."""
        n = self.notifications
        values: dict[str, Any] = {"state": state, "attempts": n.c.attempts + 1, "last_error": error[:300]}
        if state == DELIVERED:
            values["delivered"] = to_micros(now)
        if state == PULL_ONLY:
            values["attempts"] = n.c.attempts
        with self._begin() as db:
            db.execute(update(n).where(n.c.notification_id == item.notification_id, n.c.state == QUEUED)
                       .values(**values))

    def tenant(self, tenant: str) -> TenantState | None:
        found = self.states(tenant)
        return found[0] if found else None

    def block(self, tenant: str, now: datetime, probe_due: datetime, error: str) -> int:
        """Block ``tenant`` (or keep it blocked) until ``probe_due``; returns how many probes failed."""
        t = self.tenants
        with self._begin() as db:
            db.execute(update(t).where(t.c.tenant == tenant).values(
                blocked=1, blocked_since=func.coalesce(t.c.blocked_since, to_micros(now)),
                probe_due=to_micros(probe_due), probes=t.c.probes + 1, last_error=error[:300]))
            return int(db.execute(select(t.c.probes).where(t.c.tenant == tenant)).scalar_one())

    def unblock(self, tenant: str) -> bool:
        """Let ``tenant``'s queue drain now; True when it was blocked."""
        t = self.tenants
        with self._begin() as db:
            changed = db.execute(update(t).where(t.c.tenant == tenant, t.c.blocked == 1).values(
                blocked=0, blocked_since=None, probe_due=None, probes=0, last_error=""))
            return changed.rowcount == 1

    def states(self, tenant: str | None = None) -> list[TenantState]:
        """Every tenant's breaker and backlog (or one tenant's), by tenant."""
        n, t = self.notifications, self.tenants
        queued = select(func.count()).where(n.c.tenant == t.c.tenant, n.c.state == QUEUED).scalar_subquery()
        failed = select(func.count()).where(n.c.tenant == t.c.tenant, n.c.state == FAILED).scalar_subquery()
        query = select(t, queued.label("queued"), failed.label("failed")).order_by(t.c.tenant)
        if tenant is not None:
            query = query.where(t.c.tenant == tenant)
        with self._begin() as db:
            rows = [r._mapping for r in db.execute(query)]
        return [TenantState(
            tenant=str(r["tenant"]), blocked=bool(r["blocked"]),
            blocked_since=from_micros(r["blocked_since"]) if r["blocked_since"] is not None else None,
            probe_due=from_micros(r["probe_due"]) if r["probe_due"] is not None and r["blocked"] else None,
            probes=int(r["probes"]), last_error=str(r["last_error"]), queued=int(r["queued"]),
            failed=int(r["failed"])) for r in rows]

    # -- pulling -----------------------------------------------------------------------------------
    def page(self, tenant: str, after: int, limit: int, *, pending: bool = False) -> list[Notification]:
        """``tenant``'s notifications numbered after ``after``, oldest first (``pending``: only those
        neither delivered nor acknowledged)."""
        n = self.notifications
        query = select(n).where(n.c.tenant == tenant, n.c.seq > after)
        if pending:
            query = query.where(n.c.acknowledged.is_(None), n.c.state != DELIVERED)
        with self._begin() as db:
            rows = db.execute(query.order_by(n.c.seq).limit(limit))
            return [_notification(r._mapping) for r in rows]

    def acknowledge(self, tenant: str, notification_id: str, now: datetime) -> bool:
        """Mark one of ``tenant``'s notifications as received (a queued one leaves the push queue);
        False when ``tenant`` has no such notification. Repeating it changes nothing."""
        n = self.notifications
        mine = and_(n.c.tenant == tenant, n.c.notification_id == notification_id)
        with self._begin() as db:
            if db.execute(select(n.c.seq).where(mine)).first() is None:
                return False
            db.execute(update(n).where(mine, n.c.acknowledged.is_(None)).values(acknowledged=to_micros(now)))
            db.execute(update(n).where(mine, n.c.state == QUEUED).values(state=PULLED))
            return True

    # -- retention ---------------------------------------------------------------------------------
    def prune(self, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` notifications created before ``before``; how many went."""
        n = self.notifications
        oldest = select(n.c.notification_id).where(n.c.created < to_micros(before)).order_by(n.c.created) \
            .limit(limit).scalar_subquery()
        with self._begin() as db:
            return int(db.execute(delete(n).where(n.c.notification_id.in_(oldest))).rowcount)


def engine_for(store: EventStore) -> Engine:
    """An engine on the event store's own database: its Postgres database (the tables go in its
    schema), its SQLite file, or, for an in-memory store, a private in-memory database."""
    datastore: Any = getattr(store.recorder, "datastore")  # noqa: B009 - both recorders have one
    if isinstance(store.recorder, PostgresProcessRecorder):
        return postgres_engine(connection_params(store.recorder), pool_size=2, max_overflow=4)
    name = str(datastore.pool.db_name)
    if datastore.pool.is_sqlite_memory_mode:
        return create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    return create_engine(f"sqlite:///{name}", connect_args={"check_same_thread": False, "timeout": 30})


def _notification(row: Any) -> Notification:
    return Notification(
        tenant=str(row["tenant"]), seq=int(row["seq"]), notification_id=str(row["notification_id"]),
        correlation_id=str(row["correlation_id"]), clearance_key=str(row["clearance_key"]),
        event_id=str(row["event_id"]), business_key=tuple(json.loads(row["business_key"])), body=str(row["body"]),
        created=from_micros(row["created"]), state=str(row["state"]), attempts=int(row["attempts"]),
        last_error=str(row["last_error"]),
        delivered=from_micros(row["delivered"]) if row["delivered"] is not None else None,
        acknowledged=from_micros(row["acknowledged"]) if row["acknowledged"] is not None else None)
