"""The saga's durable schedules: when each clearance's next deadline is due, when each webhook
delivery is next tried. Start-up reads these rows, never the log.

Why a table written in the events' transaction (``EventStore.append_batch(also=...)``):

* the row commits or rolls back with the events that decided it, so there is no window between
  "stored" and "scheduled" for a crash to fall into, and no cursor to catch up after a restart;
* a conflicting writer (another replica, a retried batch) rolls its row back with its events, so
  the row always holds the due time of the committed state: ``next_deadline(fold(stream))``;
* its size is what is pending (clearances awaiting a receipt, deliveries not yet done), not the
  platform's age, and "what is due" is one indexed query.

A projection of the log with a cursor would need catching up (and a shared cursor is wrong with
replicas that commit out of step); a periodic snapshot still scans the log after it. The table
lives next to the events (the store's Postgres schema, or its SQLite file) and is written with the
recorder's own cursor (psycopg or sqlite3), so it is plain SQL with two parameter styles rather
than SQLAlchemy, which cannot join the recorder's transaction.

Times are stored as microseconds since the epoch (UTC), the same integer on both databases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from cbec.store.event_store import EventStore
from cbec.store.recorders import InTransaction
from eventsourcing.postgres import PostgresProcessRecorder

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    return (moment - EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


@dataclass(frozen=True, slots=True)
class Entry:
    """One scheduled item: due at ``due``; ``attempts`` and ``version`` are for webhook deliveries."""

    item: str
    due: datetime
    attempts: int = 0
    version: int = 0


class Schedule:
    """A table ``<service>_<name>`` of due items in the store's database; see the module docstring."""

    def __init__(self, store: EventStore, name: str) -> None:
        recorder = store.recorder
        prefix = str(getattr(recorder, "events_table_name", "saga_events")).removesuffix("_events")
        self.store = store
        self.datastore: Any = getattr(recorder, "datastore")  # noqa: B009 - both recorders have one
        self.table = f"{prefix}_{name}"
        self.postgres = isinstance(recorder, PostgresProcessRecorder)
        qualified = f'"{self.datastore.schema}"."{self.table}"' if self.postgres else self.table
        mark = "%s" if self.postgres else "?"
        self._sql = {
            "upsert": f"INSERT INTO {qualified} (item, due, attempts, version) VALUES ({mark}, {mark}, {mark}, {mark})"
                      " ON CONFLICT (item) DO UPDATE SET due = excluded.due, attempts = excluded.attempts,"
                      " version = excluded.version",
            "delete": f"DELETE FROM {qualified} WHERE item = {mark}",
            "first": f"SELECT item, due, attempts, version FROM {qualified} ORDER BY due LIMIT {mark}",
            "all": f"SELECT item, due, attempts, version FROM {qualified}",
            "claim": f"UPDATE {qualified} SET due = {mark} WHERE item = {mark} AND due = {mark}",
            "replace": f"UPDATE {qualified} SET due = {mark}, attempts = {mark}, version = {mark}"
                       f" WHERE item = {mark} AND due = {mark}",
            "drop": f"DELETE FROM {qualified} WHERE item = {mark} AND due = {mark}",
        }
        self._create = [
            f"CREATE TABLE IF NOT EXISTS {qualified} (item TEXT PRIMARY KEY, due BIGINT NOT NULL,"
            " attempts INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 0)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_due ON {qualified} (due)",
        ]
        self.rows_read = 0  # start-up and tick cost, for tests and benchmarks
        self.created = ensure_table(self.datastore, self.table, self._create, postgres=self.postgres) \
            if store.creates_tables else False  # else: cbec.migrations

    # -- writing with the events ---------------------------------------------------------------
    def writes(self, changes: Mapping[str, Entry | None]) -> InTransaction:
        """The writes that make the table say ``changes`` (None: nothing scheduled), for
        ``append_batch(also=...)``. Rows go in item order, so concurrent writers lock them alike."""
        upserts = [(e.item, to_micros(e.due), e.attempts, e.version)
                   for _, e in sorted(changes.items()) if e is not None]
        deletes = [(item,) for item, e in sorted(changes.items()) if e is None]

        def write(cursor: Any) -> None:
            if upserts:
                cursor.executemany(self._sql["upsert"], upserts)
            if deletes:
                cursor.executemany(self._sql["delete"], deletes)

        return write

    # -- reading and claiming -------------------------------------------------------------------
    def first(self, limit: int) -> list[Entry]:
        """The ``limit`` earliest entries, earliest first."""
        return self._select(self._sql["first"], (limit,))

    def all(self) -> list[Entry]:
        return self._select(self._sql["all"], ())

    def claim(self, entry: Entry, until: datetime) -> bool:
        """Move a due entry to ``until`` unless someone changed it since it was read: True for the one
        caller (replica) that gets to act on it now; should it die, the entry is due again at ``until``."""
        return self._change(self._sql["claim"], (to_micros(until), entry.item, to_micros(entry.due)))

    def settle(self, item: str, claimed: datetime, entry: Entry | None) -> bool:
        """Replace a claim with the true entry (None: nothing scheduled), unless a commit replaced it already."""
        if entry is None:
            return self._change(self._sql["drop"], (item, to_micros(claimed)))
        return self._change(self._sql["replace"], (to_micros(entry.due), entry.attempts, entry.version, item,
                                                   to_micros(claimed)))

    def _select(self, statement: str, params: tuple[Any, ...]) -> list[Entry]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            rows = cursor.fetchall()
        self.rows_read += len(rows)
        return [Entry(str(r["item"]), from_micros(r["due"]), int(r["attempts"]), int(r["version"])) for r in rows]

    def _change(self, statement: str, params: tuple[Any, ...]) -> bool:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(statement, params)
            raw = getattr(cursor, "sqlite_cursor", cursor)  # the library wraps sqlite3's cursor
            return int(raw.rowcount) == 1


def ensure_table(datastore: Any, table: str, statements: list[str], *, postgres: bool) -> bool:
    """Run the table's ``CREATE … IF NOT EXISTS`` statements in the store's datastore; True when this call
    created it (the caller then fills it once from the log)."""

    def create() -> bool:
        with datastore.transaction(commit=True) as cursor:
            if postgres:
                cursor.execute("SELECT to_regclass(%s) AS found", (f'"{datastore.schema}"."{table}"',))
                exists = cursor.fetchone()["found"] is not None
            else:
                cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
                exists = int(cursor.fetchone()[0]) > 0
            for statement in statements:
                cursor.execute(statement)
        return not exists

    try:
        return create()
    except psycopg.errors.UniqueViolation:  # a replica starting at the same moment created it
        return create()
