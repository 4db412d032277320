"""The saga's own metrics: what held documents wait for, which documents are past their receipt deadline,
and the alerts the saga raises.

* ``cbec_documents_held{doc_type,waiting_for}``: documents an owning service holds for the saga's release,
  by what they wait for (the ``waitingFor`` of the clearance view: ``order,payment``, ``waybill``, …; an entry
  list waits for ``waybill lists``; ``release``: released by the saga, the owner has not said so yet).
* ``cbec_documents_past_receipt_deadline{doc_type}``: documents sent to customs whose receipt deadline
  (the last send or receipt + the receipt timeout) has passed without a final receipt.
* ``cbec_saga_alerts_total{kind}``: every ``AlertRaised`` the saga recorded, by what it is about
  (:data:`ALERT_KINDS`), counted once its transaction committed.

The gauges are read from a table ``<service>_documents`` written in the transaction of the events that
changed the documents (as the deadline index of :mod:`saga_service.schedule`): one row per document that
is held or awaits a receipt, so its size is what is in flight, and a scrape costs one grouped query at
most every ``every`` seconds, the same answer on every replica.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cbec.clock import Clock, SystemClock
from cbec.metrics import Sample, Sampled, cached
from cbec.store.event_store import EventStore
from cbec.store.recorders import InTransaction
from eventsourcing.postgres import PostgresProcessRecorder
from prometheus_client import Counter

from saga_service import domain
from saga_service.domain import Clearance, Decision, Doc, Policy
from saga_service.schedule import ensure_table, to_micros

log = logging.getLogger(__name__)

ALERTS = Counter("cbec_saga_alerts", "Alerts the saga recorded, by what they are about", ["kind"])

# What an alert is about, from words of the reason the domain gives it (saga_service.domain).
ALERT_KINDS: tuple[tuple[str, str], ...] = (
    ("no receipt for ", "receipt-deadline"),  # no receipt after the last resend
    (" was accepted earlier, but customs sent no further receipt", "no-further-receipt"),
    ("customs answered the resent ", "original-unanswered"),
    (" receipt was refused and not recorded", "receipt-refused"),  # dated in the future: not from customs
    ("signing ", "signing-failed"),
)
OTHER = "other"


class CommitObserver(Protocol):
    """What ``SagaApp`` tells of each commit: ``snapshot`` of each instance as loaded (before the batch
    decides on it: its rows as committed), ``writes`` for the rows that commit with the events of the
    instances that changed (``before``: their snapshots), ``committed`` with the decisions once committed."""

    def snapshot(self, state: Clearance) -> Any: ...

    def writes(self, changed: Mapping[str, Clearance], before: Mapping[str, Any] | None = None) \
            -> InTransaction | None: ...

    def committed(self, decisions: Sequence[Decision]) -> None: ...


def in_turn(*writes: InTransaction | None) -> InTransaction | None:
    """Several writes of one transaction as one (None when there is none)."""
    present = [w for w in writes if w is not None]
    if len(present) <= 1:
        return present[0] if present else None

    def write(cursor: Any) -> None:
        for each in present:
            each(cursor)

    return write


def alert_kind(reason: str) -> str:
    """What an alert is about (a bounded label), from its reason."""
    return next((kind for words, kind in ALERT_KINDS if words in reason), OTHER)


def held_for(state: Clearance, doc: Doc, gate: int) -> str | None:
    """What a held document waits for (a bounded label); None for a document not held."""
    if doc.phase != "held" or doc.refused_generation == doc.generation:
        return None
    if doc.released_generation == doc.generation:
        return "release"
    if doc.kind == "entry":
        return "waybill lists"  # the view names each waybill: too many values for a label
    if doc.kind == "waybill-status":
        return "waybill"
    return ",".join(state.waiting_for(doc.kind, gate)) or "release"


def receipt_due(doc: Doc, policy: Policy) -> datetime | None:
    """When a sent document's receipt deadline passes (None: no receipt awaited)."""
    if not domain._awaiting_receipt(doc, policy):  # the same test the deadlines use
        return None
    return datetime.fromisoformat(doc.progress_at) + policy.receipt_timeout


@dataclass(frozen=True, slots=True)
class Row:
    clearance: str
    kind: str
    doc_type: str
    held_for: str | None
    receipt_due: datetime | None


def rows_of(state: Clearance, policy: Policy) -> list[Row]:
    """The rows of one saga instance: its documents that are held or await a receipt."""
    out = []
    for kind, doc in sorted(state.docs.items()):
        held, due = held_for(state, doc, policy.gate), receipt_due(doc, policy)
        if held is not None or due is not None:
            out.append(Row(state.key, kind, doc.doc_type, held, due))
    return out


class DocumentGauges:
    """The table behind the document gauges, and the alert counter; attach it to the saga with
    :meth:`attach` (its commits then write the rows of the instances they changed)."""

    def __init__(self, store: EventStore, policy: Policy, *, clock: Clock | None = None, every: float = 10.0) -> None:
        recorder = store.recorder
        prefix = str(getattr(recorder, "events_table_name", "saga_events")).removesuffix("_events")
        self.store, self.policy, self.every = store, policy, every
        self.clock: Clock = clock or SystemClock()
        self.datastore: Any = getattr(recorder, "datastore")  # noqa: B009 - both recorders have one
        self.table = f"{prefix}_documents"
        self.postgres = isinstance(recorder, PostgresProcessRecorder)
        qualified = f'"{self.datastore.schema}"."{self.table}"' if self.postgres else self.table
        mark = "%s" if self.postgres else "?"
        self._sql = {
            "delete": f"DELETE FROM {qualified} WHERE clearance = {mark}",
            "insert": f"INSERT INTO {qualified} (clearance, kind, doc_type, held_for, receipt_due)"
                      f" VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
            "upsert": f"INSERT INTO {qualified} (clearance, kind, doc_type, held_for, receipt_due)"
                      f" VALUES ({mark}, {mark}, {mark}, {mark}, {mark}) ON CONFLICT (clearance, kind) DO UPDATE"
                      " SET doc_type = excluded.doc_type, held_for = excluded.held_for,"
                      " receipt_due = excluded.receipt_due",
            "drop": f"DELETE FROM {qualified} WHERE clearance = {mark} AND kind = {mark}",
            # one grouped query for both gauges
            "count": f"SELECT doc_type, held_for, count(held_for) AS held,"
                     f" sum(CASE WHEN receipt_due <= {mark} THEN 1 ELSE 0 END) AS past"
                     f" FROM {qualified} WHERE clearance <> '' GROUP BY doc_type, held_for",
            # the row that says the table was filled from the log (the table may come from a migration)
            "filled": f"SELECT count(*) AS n FROM {qualified} WHERE clearance = ''",
            "mark": f"INSERT INTO {qualified} (clearance, kind, doc_type) VALUES ('', 'filled', '')",
        }
        self._create = [
            f"CREATE TABLE IF NOT EXISTS {qualified} (clearance TEXT NOT NULL, kind TEXT NOT NULL,"
            " doc_type TEXT NOT NULL, held_for TEXT, receipt_due BIGINT, PRIMARY KEY (clearance, kind))",
        ]
        self.created = ensure_table(self.datastore, self.table, self._create, postgres=self.postgres) \
            if store.creates_tables else False  # else: cbec.migrations
        self.counts = cached(self._count, every=every)

    # -- the saga's commit hooks ---------------------------------------------------------------
    def attach(self, app: Any) -> DocumentGauges:
        """Hook into ``app`` (a ``SagaApp``); a table not yet filled (created just now, here or by a
        migration) is filled from the log once."""
        app.observers.append(self)
        if not self._filled():
            self.backfill(app.load)
        return self

    def _filled(self) -> bool:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql["filled"])
            row = cursor.fetchone()
        return int(row["n"] if self.postgres else row[0]) > 0

    def snapshot(self, state: Clearance) -> dict[str, Row]:
        """The instance's rows, by document kind (taken as it is loaded: the rows its commit wrote)."""
        return {row.kind: row for row in rows_of(state, self.policy)}

    def writes(self, changed: Mapping[str, Clearance], before: Mapping[str, Any] | None = None) \
            -> InTransaction | None:
        """The rows of the ``changed`` instances, written with their events (instance order, so concurrent
        writers lock alike). With ``before`` (each instance's :meth:`snapshot` as loaded, so the rows the
        table holds: a stale one fails the events' append, and the rows roll back with it), only the rows
        that differ are written; most messages change no document's gauge row (a receipt of an order
        that is neither held nor awaited), so most commits write none."""
        if not changed:
            return None
        if before is not None:
            return self._changes(changed, before)
        keys = sorted(changed)
        rows = [r for k in keys for r in rows_of(changed[k], self.policy)]
        inserts = [(r.clearance, r.kind, r.doc_type, r.held_for,
                    to_micros(r.receipt_due) if r.receipt_due is not None else None) for r in rows]

        def write(cursor: Any) -> None:
            cursor.executemany(self._sql["delete"], [(k,) for k in keys])
            if inserts:
                cursor.executemany(self._sql["insert"], inserts)

        return write

    def _changes(self, changed: Mapping[str, Clearance], before: Mapping[str, Any]) -> InTransaction | None:
        upserts: list[tuple[Any, ...]] = []
        drops: list[tuple[str, str]] = []
        for key in sorted(changed):
            old: dict[str, Row] = before.get(key) or {}
            new = self.snapshot(changed[key])
            drops += [(key, kind) for kind in sorted(old.keys() - new.keys())]
            upserts += [(r.clearance, r.kind, r.doc_type, r.held_for,
                         to_micros(r.receipt_due) if r.receipt_due is not None else None)
                        for kind, r in sorted(new.items()) if old.get(kind) != r]
        if not upserts and not drops:
            return None

        def write(cursor: Any) -> None:
            if drops:
                cursor.executemany(self._sql["drop"], drops)
            if upserts:
                cursor.executemany(self._sql["upsert"], upserts)

        return write

    def committed(self, decisions: Sequence[Decision]) -> None:
        """After a commit: count the alerts it recorded."""
        for event_type, data in decisions:
            if event_type == domain.ALERT_RAISED:
                ALERTS.labels(alert_kind(str(data.get("reason", "")))).inc()

    def backfill(self, load: Callable[[str], Clearance]) -> int:
        """Rows for a log written before the table existed (a scan of the log, once per database)."""
        keys: set[str] = set()
        start = 1
        while batch := self.store.notifications(start, 1000, topics=[domain.OBSERVED]):
            keys.update(str(e.data["event"].get("clearanceKey", "")) for e in batch)
            start = (batch[-1].notification_id or start) + 1
        states = {k: load(k) for k in keys - {""}}
        rows = self.writes(states)

        def write(cursor: Any) -> None:
            if rows is not None:
                rows(cursor)
            cursor.execute(self._sql["mark"])

        self.store.append_batch([], also=write)
        log.info("saga: document gauges filled from %d clearances", len(states))
        return len(states)

    # -- reading -------------------------------------------------------------------------------
    def _count(self) -> tuple[list[Sample], list[Sample]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql["count"], (to_micros(self.clock.now()),))
            rows = cursor.fetchall()
        held: list[Sample] = []
        past: dict[str, float] = {}
        for row in rows:
            doc_type, waiting = str(row["doc_type"]), row["held_for"]
            if waiting is not None:
                held.append(((doc_type, str(waiting)), float(row["held"])))
            past[doc_type] = past.get(doc_type, 0.0) + float(row["past"] or 0)
        return held, [((t,), n) for t, n in sorted(past.items())]

    def collectors(self) -> list[Sampled]:
        """The two gauges, from one cached query (``every`` seconds)."""

        def held() -> Iterable[Sample]:
            return self.counts()[0]

        def past() -> Iterable[Sample]:
            return self.counts()[1]

        return [Sampled("cbec_documents_held", "Documents held for the saga's release, by what they wait for",
                        ["doc_type", "waiting_for"], held, every=0),
                Sampled("cbec_documents_past_receipt_deadline",
                        "Documents sent to customs whose receipt deadline passed without a final receipt",
                        ["doc_type"], past, every=0)]
