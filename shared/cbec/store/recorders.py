"""Open an eventsourcing process recorder (events + notification log + tracking) from a URL."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import ProcessRecorder, StoredEvent
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteProcessRecorder
from psycopg import Cursor, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")

InTransaction = Callable[[Any], None]
"""Writes of the service's own tables, run with the recorder's cursor in the events' transaction."""
IN_TRANSACTION = "in_transaction"  # the keyword ``insert_events`` hands it on with


DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 10


def libpq_params(url: str) -> dict[str, str]:
    """Every libpq connection parameter a ``postgresql://`` URL (or the SQLAlchemy spelling
    ``postgresql+psycopg://``) gives: host(s), port(s), dbname, user, password and every query option
    (``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``, ``target_session_attrs``,
    ``application_name``, ``connect_timeout``, ``options`` …), parsed by libpq itself, so every pool
    connects exactly as ``psql "<url>"`` would. An unknown option is an error, not ignored."""
    url = re.sub(r"^postgres(ql)?\+psycopg://", "postgresql://", url)
    return {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}


def open_recorder(
    url: str,
    *,
    schema: str,
    name: str,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int = DEFAULT_MAX_OVERFLOW,
    create: bool = True,
) -> ProcessRecorder:
    """Return a ready recorder for service ``name``, creating its schema and tables if needed
    (``create=False``: never; on Postgres a service's tables come from :mod:`cbec.migrations`).

    ``postgresql://user:password@host:port/db`` (or ``postgresql+psycopg://…``) gives a
    ``PostgresProcessRecorder`` whose tables ``<name>_events`` and ``<name>_tracking`` live in
    Postgres schema ``schema``; every libpq option of the URL reaches each pooled connection
    (:func:`libpq_params`). The pool holds ``pool_size`` connections and opens up to
    ``max_overflow`` more under load.
    ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db`` or ``sqlite:///:memory:``
    give an ``SQLiteProcessRecorder`` (``schema`` is ignored: use one file per service, since the
    library's SQLite tracking table is not prefixed). Each ``:memory:`` call is a fresh database.
    """
    _check_identifier("name", name)
    url = re.sub(r"^postgres(ql)?\+psycopg://", "postgresql://", url)  # SQLAlchemy spelling
    if url.startswith(("postgresql://", "postgres://")):
        _check_identifier("schema", schema)
        if not create:
            return _postgres_recorder(libpq_params(url), schema, name, pool_size, max_overflow, create=False)
        return _open_postgres(url, schema, name, pool_size, max_overflow)
    if url.startswith("sqlite:///"):
        return _open_sqlite(url[len("sqlite:///") :], name, pool_size, max_overflow)
    raise ValueError(f"unsupported event store URL scheme: {url.split(':', 1)[0]!r}")


def close_recorder(recorder: ProcessRecorder) -> None:
    """Close the recorder's connection pool."""
    datastore: Any = getattr(recorder, "datastore", None)
    if datastore is not None:
        datastore.close()


def _check_identifier(what: str, value: str) -> None:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{what} must match {_IDENTIFIER.pattern}: {value!r}")


def _open_postgres(url: str, schema: str, name: str, pool_size: int, max_overflow: int) -> ProcessRecorder:
    params = libpq_params(url)
    with psycopg.connect(make_conninfo("", **params), autocommit=True) as conn:
        # Replicas starting together would race on CREATE … IF NOT EXISTS (a unique violation in the
        # catalogue): the schema and tables are made under a lock taken per store.
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"cbec-ddl:{schema}.{name}",))
        # Look first, so a role without CREATE on the database can use a schema made for it.
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        if exists is None:
            try:
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            except psycopg.errors.UniqueViolation:
                pass  # another process created it at the same moment
        return _postgres_recorder(params, schema, name, pool_size, max_overflow)  # the lock ends with conn


def _postgres_recorder(params: dict[str, str], schema: str, name: str, pool_size: int,
                       max_overflow: int, *, create: bool = True) -> ProcessRecorder:
    recorder = _ArrayInsertRecorder(
        postgres_datastore(params, schema, pool_size, max_overflow),
        events_table_name=f"{name}_events",
        tracking_table_name=f"{name}_tracking",
    )
    if create:
        recorder.create_table()
    return recorder


def postgres_datastore(params: dict[str, str], schema: str, pool_size: int, max_overflow: int) -> PostgresDatastore:
    """The library's datastore (its pool not yet open) connecting with every one of ``params``."""
    datastore = PostgresDatastore(
        dbname=str(params.get("dbname") or params.get("user") or "postgres"),
        host=str(params.get("host") or "localhost"),
        port=str(params.get("port") or "5432"),
        user=str(params.get("user") or "postgres"),
        password=str(params.get("password") or ""),
        schema=schema,
        pool_size=pool_size,
        max_overflow=max_overflow,
        idle_in_transaction_session_timeout=5,
    )
    # The library's pool passes on only the five parameters above: its connections get the URL's
    # own, every option included (the pool opens on first use, so nothing has connected yet).
    pooled = datastore.pool.kwargs
    if not isinstance(pooled, dict):
        raise TypeError("the eventsourcing pool no longer keeps its connection parameters in a dict")
    pooled.update(params)
    return datastore


class _ArrayInsertRecorder(PostgresProcessRecorder):
    """The library's recorder, but inserting events from four plain arrays sent in binary (``%b``):
    the library's array of composite rows goes as escaped text, which costs the client about four
    times the CPU per event. Same table lock, same ``RETURNING notification_id``.

    Each inserting transaction also sends ``NOTIFY "<schema>.<table>", '<token>'`` (delivered at
    commit): the channel is per store, and the token names this recorder, so a listener in the same
    process can tell its own commits (already handed on in memory) from another process's."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str, tracking_table_name: str) -> None:
        super().__init__(datastore, events_table_name=events_table_name, tracking_table_name=tracking_table_name)
        self.channel_name = f"{datastore.schema}.{events_table_name}"
        self.token = uuid.uuid4().hex
        self._notify = sql.SQL("NOTIFY {}, {}").format(sql.Identifier(self.channel_name), sql.Literal(self.token))
        self._insert_arrays = sql.SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])"
            " RETURNING notification_id"
        ).format(schema=sql.Identifier(datastore.schema), table=sql.Identifier(events_table_name))

    def _insert_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        also: InTransaction | None = kwargs.get(IN_TRANSACTION)
        if also is not None:
            also(curs)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self._insert_arrays,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
            prepare=True,
        )

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        curs.execute(self._notify)


def commit_channel(recorder: ProcessRecorder) -> tuple[str, str] | None:
    """The Postgres channel a store's commits are announced on and this recorder's own payload
    (None for SQLite: one process, whose commits reach listeners in memory)."""
    if isinstance(recorder, _ArrayInsertRecorder):
        return recorder.channel_name, recorder.token
    return None


def connection_params(recorder: ProcessRecorder) -> dict[str, str]:
    """The libpq parameters a Postgres store's pool connects with (those of its URL)."""
    if not isinstance(recorder, PostgresProcessRecorder):
        raise TypeError("only a Postgres store has connection parameters")
    pooled = recorder.datastore.pool.kwargs
    if not isinstance(pooled, dict):
        raise TypeError("the eventsourcing pool no longer keeps its connection parameters in a dict")
    return {k: str(v) for k, v in pooled.items() if k != "row_factory" and v is not None}


def connect_dedicated(recorder: ProcessRecorder) -> psycopg.Connection[Any]:
    """A connection of its own (autocommit, TCP keepalives) to a Postgres store's database, outside
    its pool: for a session that must last, such as an advisory lock or LISTEN. The URL's own
    options (e.g. its ``connect_timeout`` or ``keepalives_idle``) win over these defaults."""
    if not isinstance(recorder, PostgresProcessRecorder):
        raise TypeError("only a Postgres store has connections of its own")
    kwargs: dict[str, Any] = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10,
                              "keepalives_interval": 5, "keepalives_count": 3, **connection_params(recorder)}
    return psycopg.connect(**kwargs, autocommit=True)


def _open_sqlite(path: str, name: str, pool_size: int, max_overflow: int) -> ProcessRecorder:
    if path in ("", ":memory:"):
        # A private shared-cache memory database, so every pooled connection sees the same data.
        db_name = f"file:cbec-{name}-{uuid.uuid4().hex}?mode=memory&cache=shared"
    else:
        db_name = path
    datastore = SQLiteDatastore(db_name, pool_size=pool_size, max_overflow=max_overflow)
    recorder = _SQLiteRecorder(datastore, events_table_name=f"{name}_events")
    recorder.create_table()
    return recorder


class _SQLiteRecorder(SQLiteProcessRecorder):
    """The library's recorder, running the caller's own writes (``in_transaction``) with the events."""

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        also: InTransaction | None = kwargs.get(IN_TRANSACTION)
        if also is not None:
            also(c)
        return super()._insert_events(c, stored_events, **kwargs)


def count_existing_versions(recorder: ProcessRecorder, versions: Sequence[tuple[UUID, int]]) -> int:
    """How many of the given (stream, version) pairs are stored, in one query per 400 pairs."""
    found = 0
    for start in range(0, len(versions), 400):
        chunk = versions[start : start + 400]
        if isinstance(recorder, PostgresProcessRecorder):
            found += _count_postgres(recorder, chunk)
        elif isinstance(recorder, SQLiteProcessRecorder):
            found += _count_sqlite(recorder, chunk)
        else:
            found += sum(1 for s, v in chunk if recorder.select_events(s, gt=v - 1, lte=v, limit=1))
    return found


def _count_postgres(recorder: PostgresProcessRecorder, pairs: Sequence[tuple[UUID, int]]) -> int:
    statement = sql.SQL(
        "SELECT count(*) AS n FROM {schema}.{table} t"
        " JOIN unnest(%s::uuid[], %s::bigint[]) AS c(id, v)"
        " ON t.originator_id = c.id AND t.originator_version = c.v"
    ).format(
        schema=sql.Identifier(recorder.datastore.schema),
        table=sql.Identifier(recorder.events_table_name),
    )
    with recorder.datastore.get_connection() as conn:
        row = conn.execute(statement, ([s for s, _ in pairs], [v for _, v in pairs])).fetchone()
    return int(row["n"]) if row else 0


def _count_sqlite(recorder: SQLiteProcessRecorder, pairs: Sequence[tuple[UUID, int]]) -> int:
    rows = ",".join("(?,?)" for _ in pairs)
    statement = (
        f"SELECT count(*) FROM {recorder.events_table_name}"  # name checked by open_recorder
        f" WHERE (originator_id, originator_version) IN (VALUES {rows})"
    )
    params: list[Any] = [x for s, v in pairs for x in (s.hex, v)]
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, params)
        return int(cursor.fetchone()[0])


def select_streams(recorder: ProcessRecorder, stream_ids: Sequence[UUID]) -> list[StoredEvent]:
    """The events of all ``stream_ids``, ordered by stream and version, in one query per 400 streams."""
    found: list[StoredEvent] = []
    unique = list(dict.fromkeys(stream_ids))
    for start in range(0, len(unique), 400):
        chunk = unique[start : start + 400]
        if isinstance(recorder, PostgresProcessRecorder):
            found += _select_postgres(recorder, chunk)
        elif isinstance(recorder, SQLiteProcessRecorder):
            found += _select_sqlite(recorder, chunk)
        else:
            found += [event for stream in chunk for event in recorder.select_events(stream)]
    return found


def _select_postgres(recorder: PostgresProcessRecorder, stream_ids: Sequence[UUID]) -> list[StoredEvent]:
    statement = sql.SQL(
        "SELECT originator_id, originator_version, topic, state FROM {schema}.{table}"
        " WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(
        schema=sql.Identifier(recorder.datastore.schema),
        table=sql.Identifier(recorder.events_table_name),
    )
    with recorder.datastore.get_connection() as conn:
        rows = conn.execute(statement, (list(stream_ids),)).fetchall()
    return [
        StoredEvent(
            originator_id=row["originator_id"],
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
        )
        for row in rows
    ]


def _select_sqlite(recorder: SQLiteProcessRecorder, stream_ids: Sequence[UUID]) -> list[StoredEvent]:
    marks = ",".join("?" for _ in stream_ids)
    statement = (
        "SELECT originator_id, originator_version, topic, state"
        f" FROM {recorder.events_table_name}"  # name checked by open_recorder
        f" WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version"
    )
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, [s.hex for s in stream_ids])
        rows = cursor.fetchall()
    return [
        StoredEvent(
            originator_id=recorder.convert_originator_id(row["originator_id"]),
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=row["state"],
        )
        for row in rows
    ]
