"""The documents table of one service: one row per document stream, with the codes of its parties."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool

from cbec.readmodel import cursor as cursors
from cbec.store.recorders import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE, libpq_params

MAX_LIMIT = 200
_UPDATED = ("doc_type", "business_key", "status", "status_code", "phase", "clearance_key", "sender", "sequence",
            "updated_at")  # every column but the stream and its first appearance (created_seq)


class PositionMoved(RuntimeError):
    """Another projector (a replica's) moved the read model's position first."""


@dataclass(frozen=True, slots=True)
class DocumentRow:
    """What a listing shows of one document (no personal data)."""

    stream_id: str
    doc_type: str
    business_key: tuple[str, ...]
    status: str
    status_code: int | None
    phase: str
    clearance_key: str
    sender: str
    parties: frozenset[str]
    created_seq: int
    sequence: int
    updated_at: datetime
    clearance_keys: tuple[str, ...] = ()  # the clearances a document spanning several names (its links)

    def to_json(self) -> dict[str, Any]:
        return {
            "streamId": self.stream_id,
            "docType": self.doc_type,
            "businessKey": list(self.business_key),
            "status": self.status,
            "statusCode": self.status_code,
            "phase": self.phase,
            "clearanceKey": self.clearance_key,
            "updatedAt": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Page:
    items: list[DocumentRow]
    next_cursor: str | None


def sqlalchemy_url(url: str) -> str:
    """The event store's URL in SQLAlchemy's spelling (psycopg 3 driver for Postgres)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def open_engine(url: str, *, pool_size: int = DEFAULT_POOL_SIZE, max_overflow: int = DEFAULT_MAX_OVERFLOW) -> Engine:
    """An engine on ``url``: for Postgres a pool of ``pool_size`` connections (+ ``max_overflow``
    under load), each made with every libpq option of the URL (see :func:`postgres_engine`)."""
    url = sqlalchemy_url(url)
    if url in ("sqlite://", "sqlite:///:memory:"):
        # One shared connection, so every thread (the HTTP server's pool) sees the same database.
        return create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"check_same_thread": False})
    return postgres_engine(libpq_params(url), pool_size=pool_size, max_overflow=max_overflow)


def postgres_engine(params: Mapping[str, str], *, pool_size: int, max_overflow: int) -> Engine:
    """A Postgres engine whose connections are made from libpq ``params`` as they are: SQLAlchemy's
    own URL cannot hold several hosts (``target_session_attrs``) and re-spells some options, so the
    engine's URL names only the driver and every parameter goes to psycopg untouched."""
    return create_engine("postgresql+psycopg://", connect_args=dict(params), pool_size=pool_size,
                         max_overflow=max_overflow, pool_pre_ping=True)


class ReadModel:
    """Tables ``<service>_documents``, ``<service>_document_parties``, ``<service>_document_clearances``
    (the clearances each document spanning several names: 运抵单, 离境单, 总分单, 汇总申请单 …) and
    ``<service>_readmodel_tracking``."""

    def __init__(self, engine: Engine, service: str, *, schema: str | None = None, url: str | None = None) -> None:
        self.engine = engine
        self.url = url  # what it was opened with (the engine's own URL holds no Postgres parameters)
        self.service = service
        self.schema = schema if engine.dialect.name == "postgresql" else None
        self.metadata = MetaData(schema=self.schema)
        self.documents = Table(
            f"{service}_documents",
            self.metadata,
            Column("stream_id", String(36), primary_key=True),
            Column("doc_type", String(10), nullable=False),
            Column("business_key", String(400), nullable=False),
            Column("status", String(200), nullable=False),
            Column("status_code", Integer, nullable=True),
            Column("phase", String(30), nullable=False),
            Column("clearance_key", String(200), nullable=False),
            Column("sender", String(40), nullable=False),
            Column("created_seq", BigInteger, nullable=False, unique=True),
            Column("sequence", BigInteger, nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
        )
        self.parties = Table(
            f"{service}_document_parties",
            self.metadata,
            Column("stream_id", String(36), primary_key=True),
            Column("code", String(40), primary_key=True),
            Index(f"ix_{service}_document_parties_code", "code", "stream_id"),
        )
        self.spans = Table(
            f"{service}_document_clearances",
            self.metadata,
            Column("stream_id", String(36), primary_key=True),
            Column("clearance_key", String(200), primary_key=True),
            Index(f"ix_{service}_document_clearances_key", "clearance_key", "stream_id"),
        )
        self.tracking = Table(
            f"{service}_readmodel_tracking",
            self.metadata,
            Column("name", String(100), primary_key=True),
            Column("position", BigInteger, nullable=False),
        )

    @classmethod
    def open(cls, url: str, service: str, *, schema: str | None = None, pool_size: int = DEFAULT_POOL_SIZE,
             max_overflow: int = DEFAULT_MAX_OVERFLOW, create: bool = True) -> ReadModel:
        """Connect and create the tables if needed (Postgres: in ``schema``, made if missing), unless
        ``create=False`` (a service on Postgres: the migrations made them)."""
        model = cls(open_engine(url, pool_size=pool_size, max_overflow=max_overflow), service, schema=schema,
                    url=url)
        if create:
            model.create()
        return model

    def create(self) -> None:
        create_tables(self.engine, self.metadata, self.schema, f"cbec-readmodel-ddl:{self.schema}.{self.service}")

    def close(self) -> None:
        self.engine.dispose()

    # -- writing (the projection, inside its transaction) -------------------------------------------
    def position(self, name: str, conn: Connection | None = None) -> int:
        query = select(self.tracking.c.position).where(self.tracking.c.name == name)
        if conn is not None:
            return int(conn.execute(query).scalar() or 0)
        with self.engine.connect() as own:
            return int(own.execute(query).scalar() or 0)

    def set_position(self, conn: Connection, name: str, position: int, previous: int) -> None:
        """Move ``name`` from ``previous`` to ``position``; fails if another writer moved it first."""
        if (
            previous == 0
            and conn.execute(
                select(func.count()).select_from(self.tracking).where(self.tracking.c.name == name)
            ).scalar()
            == 0
        ):
            conn.execute(insert(self.tracking).values(name=name, position=position))
            return
        moved = conn.execute(
            update(self.tracking)
            .where(self.tracking.c.name == name, self.tracking.c.position == previous)
            .values(position=position)
        )
        if moved.rowcount != 1:
            raise PositionMoved(f"read model position {name} moved under us")

    def upsert(self, conn: Connection, row: DocumentRow) -> None:
        self.upsert_many(conn, [row])

    def upsert_many(self, conn: Connection, rows: Sequence[DocumentRow]) -> None:
        """Write ``rows`` (distinct streams) together: a stream's row is inserted, or updated when the
        row brings a later event (``sequence``); one at or behind the stored row is a replay and
        changes nothing, its parties included. The parties of the rows written are replaced. One
        read of the stored sequences, then one statement per table."""
        if not rows:
            return
        c = self.documents.c
        stored = dict(conn.execute(select(c.stream_id, c.sequence)
                                   .where(c.stream_id.in_(sorted(row.stream_id for row in rows)))).tuples().all())
        newer = [row for row in rows if row.stream_id not in stored or stored[row.stream_id] < row.sequence]
        # Every row was folded from its whole stream as stored now, so its clearances are current even
        # for a replay: a rebuild of the index (migration 0005) relies on this.
        self._spans(conn, rows)
        if not newer:
            return
        upsert = self._insert(self.documents)
        # Still guarded by the sequence: a round of another projector that got in between rolls this
        # one back at ``set_position``. Without RETURNING the rows go as one prepared executemany.
        upsert = upsert.on_conflict_do_update(
            index_elements=[c.stream_id],
            set_={name: upsert.excluded[name] for name in _UPDATED},
            where=c.sequence < upsert.excluded.sequence,
        )
        conn.execute(upsert, [
            {
                "stream_id": row.stream_id,
                "created_seq": row.created_seq,
                "doc_type": row.doc_type,
                "business_key": json.dumps(list(row.business_key), ensure_ascii=False),
                "status": row.status[:200],
                "status_code": row.status_code,
                "phase": row.phase,
                "clearance_key": row.clearance_key,
                "sender": row.sender,
                "sequence": row.sequence,
                "updated_at": row.updated_at,
            }
            for row in newer
        ])
        p = self.parties.c
        conn.execute(delete(self.parties).where(p.stream_id.in_(sorted(row.stream_id for row in newer))))
        parties = [{"stream_id": row.stream_id, "code": code} for row in newer for code in sorted(row.parties)]
        if parties:
            conn.execute(insert(self.parties), parties)

    def _insert(self, table: Table) -> Any:
        return postgresql.insert(table) if self.engine.dialect.name == "postgresql" else sqlite.insert(table)

    def _spans(self, conn: Connection, rows: Sequence[DocumentRow]) -> None:
        """The clearances ``rows`` span, replacing those stored: one delete, one insert."""
        k = self.spans.c
        conn.execute(delete(self.spans).where(k.stream_id.in_(sorted(row.stream_id for row in rows))))
        spans = [
            {"stream_id": row.stream_id, "clearance_key": key}
            for row in rows
            for key in sorted({key[:200] for key in row.clearance_keys if key})
        ]
        if spans:
            conn.execute(insert(self.spans), spans)

    # -- reading ----------------------------------------------------------------------------------
    def get(self, stream_id: str) -> DocumentRow | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(self.documents).where(self.documents.c.stream_id == stream_id)
            ).first()
            if found is None:
                return None
            return self._row(found._mapping, self._parties(conn, [stream_id]).get(stream_id, frozenset()))

    def list(
        self,
        party: str,
        *,
        status: str | None = None,
        doc_type: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        number: str | None = None,
        clearance_key: str | None = None,
        spans_clearance: str | None = None,
        updated_from: datetime | None = None,
        updated_before: datetime | None = None,
    ) -> Page:
        """Documents ``party`` is a party to, newest first; ``cursor`` continues a previous page.

        ``status`` matches the customs status code when numeric, else the phase or the status label;
        ``number`` is a part of the business key (order, payment, waybill or list number, literally);
        ``clearance_key`` one clearance; ``spans_clearance`` the documents spanning several clearances that
        name this one (an export clearance's 运抵单, 离境单, 总分单, 汇总申请单);
        ``updated_from``/``updated_before`` the last change's time.
        Ordering is by first appearance, which never changes, so pages neither skip nor repeat rows.
        """
        limit = max(1, min(limit, MAX_LIMIT))
        d, p = self.documents.c, self.parties.c
        query = select(self.documents).join(self.parties, p.stream_id == d.stream_id).where(p.code == party)
        if doc_type:
            query = query.where(d.doc_type == doc_type)
        if status:
            query = (
                query.where(d.status_code == int(status))
                if status.lstrip("-").isdigit()
                else query.where(or_(d.phase == status, d.status == status))
            )
        if number:
            query = query.where(d.business_key.contains(number, autoescape=True))
        if clearance_key:
            query = query.where(d.clearance_key == clearance_key)
        if spans_clearance:
            k = self.spans.c
            query = query.where(d.stream_id.in_(select(k.stream_id).where(k.clearance_key == spans_clearance)))
        if updated_from is not None:
            query = query.where(d.updated_at >= updated_from)
        if updated_before is not None:
            query = query.where(d.updated_at < updated_before)
        if cursor:
            query = query.where(d.created_seq < cursors.decode(cursor))
        query = query.order_by(d.created_seq.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            found = [r._mapping for r in conn.execute(query)]
            parties = self._parties(conn, [str(r["stream_id"]) for r in found[:limit]])
        rows = [self._row(r, parties.get(str(r["stream_id"]), frozenset())) for r in found[:limit]]
        more = len(found) > limit
        return Page(rows, cursors.encode(rows[-1].created_seq) if more and rows else None)

    def _parties(self, conn: Connection, stream_ids: Sequence[str]) -> dict[str, frozenset[str]]:
        if not stream_ids:
            return {}
        out: dict[str, set[str]] = {}
        for stream_id, code in conn.execute(
            select(self.parties.c.stream_id, self.parties.c.code).where(
                self.parties.c.stream_id.in_(stream_ids)
            )
        ):
            out.setdefault(stream_id, set()).add(code)
        return {k: frozenset(v) for k, v in out.items()}

    @staticmethod
    def _row(r: Any, parties: frozenset[str]) -> DocumentRow:
        updated: datetime = r["updated_at"]
        return DocumentRow(
            stream_id=str(r["stream_id"]),
            doc_type=str(r["doc_type"]),
            business_key=tuple(json.loads(r["business_key"])),
            status=str(r["status"]),
            status_code=r["status_code"],
            phase=str(r["phase"]),
            clearance_key=str(r["clearance_key"]),
            sender=str(r["sender"]),
            parties=parties,
            created_seq=int(r["created_seq"]),
            sequence=int(r["sequence"]),
            updated_at=updated if updated.tzinfo else updated.replace(tzinfo=UTC),
        )  # clearance_keys are not read back: the listing filters by them (``spans_clearance``)


def create_tables(engine: Engine, metadata: MetaData, schema: str | None, lock_key: str) -> None:
    """Make ``schema`` and ``metadata``'s tables; replicas starting together take turns (a
    transaction-level advisory lock on ``lock_key`` on Postgres), so none fails on a catalogue race."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": lock_key})
        if schema:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        metadata.create_all(conn)
