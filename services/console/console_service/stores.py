"""The console's import drafts, batches and hand-off parcels in its database (SQLAlchemy, schema
``<prefix>console``; migration 0004 makes the same tables in production).

Each row keeps what the console looks things up by in clear (ids, user, enterprise, document type, times,
results) and everything else — the sheet's cells, the batch's commands, the parcel's data, all of which
carry buyers' names, ID numbers and phones — as one JSON body encrypted with the platform's PII cipher
(``CBEC_PII_KEYS``, AES-GCM, rotatable like the event stores'). There is no clear-text mode: without a
cipher these stores refuse to open.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cbec.privacy.cipher import AesGcmCipher
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from console_service.batches import Batch, Draft, Workbench
from console_service.handoff import HandOffs, Parcel


def console_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """``console_drafts``, ``console_batches`` and ``console_handoffs`` (as 0004_console_batches makes them)."""
    drafts = Table(
        "console_drafts", metadata,
        Column("id", String(32), primary_key=True),
        Column("owner", String(100), nullable=False),
        Column("enterprise", String(40), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("body", LargeBinary, nullable=False),  # encrypted JSON
    )
    batches = Table(
        "console_batches", metadata,
        Column("id", String(32), primary_key=True),
        Column("name", String(100), nullable=False),
        Column("owner", String(100), nullable=False),
        Column("enterprise", String(40), nullable=False),
        Column("doc_type", String(10), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("done", Boolean, nullable=False),
        Column("body", LargeBinary, nullable=False),  # encrypted JSON: the items
    )
    handoffs = Table(
        "console_handoffs", metadata,
        Column("id", String(32), primary_key=True),
        Column("warehouse", String(40), nullable=False),
        Column("courier", String(40), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("result", String(20), nullable=False),
        Column("body", LargeBinary, nullable=False),  # encrypted JSON: the parcel's data and errors
    )
    return drafts, batches, handoffs


class StoreNeedsCipher(RuntimeError):
    def __init__(self) -> None:
        super().__init__("the console's drafts, batches and parcels hold personal data: CBEC_PII_KEYS is required "
                         "to store them")


class ConsoleTables:
    """The three tables on one engine, with the cipher of their bodies."""

    def __init__(self, engine: Engine, cipher: AesGcmCipher | None, schema: str | None = None) -> None:
        if cipher is None:
            raise StoreNeedsCipher()
        self.engine, self.cipher = engine, cipher
        self.metadata = MetaData(schema=schema if engine.dialect.name == "postgresql" else None)
        self.drafts, self.batches, self.handoffs = console_tables(self.metadata)

    def create(self) -> None:
        from cbec.readmodel.tables import create_tables

        create_tables(self.engine, self.metadata, self.metadata.schema, "cbec-console-ddl")

    def seal(self, body: Any) -> bytes:
        return bytes(self.cipher.encrypt(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")))

    def open(self, sealed: bytes) -> Any:
        return json.loads(self.cipher.decrypt(bytes(sealed)))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite gives naive times back


class SqlWorkbench(Workbench):
    """:class:`Workbench` written through to the database; read back after a restart."""

    def __init__(self, tables: ConsoleTables) -> None:
        super().__init__()
        self.t = tables

    def _stored_draft(self, draft: Draft) -> None:
        with self.t.engine.begin() as conn:
            conn.execute(insert(self.t.drafts).values(id=draft.id, owner=draft.owner, enterprise=draft.enterprise,
                                                      created_at=datetime.now(UTC), body=self.t.seal(draft.body())))

    def save_draft(self, draft: Draft) -> None:
        with self.t.engine.begin() as conn:
            conn.execute(update(self.t.drafts).where(self.t.drafts.c.id == draft.id)
                         .values(body=self.t.seal(draft.body())))

    def _load_draft(self, draft_id: str) -> Draft | None:
        with self.t.engine.connect() as conn:
            row = conn.execute(select(self.t.drafts).where(self.t.drafts.c.id == draft_id)).first()
        return None if row is None else Draft.from_body(row.id, row.owner, row.enterprise, self.t.open(row.body))

    def _stored_commit(self, draft: Draft, batch: Batch) -> None:
        with self.t.engine.begin() as conn:  # one transaction: never both or neither
            conn.execute(insert(self.t.batches).values(
                id=batch.id, name=batch.name, owner=batch.owner, enterprise=batch.enterprise, doc_type=batch.doc_type,
                created_at=batch.created, done=batch.done, body=self.t.seal(batch.items_body())))
            conn.execute(delete(self.t.drafts).where(self.t.drafts.c.id == draft.id))

    def save_batch(self, batch: Batch) -> None:
        with self.t.engine.begin() as conn:
            conn.execute(update(self.t.batches).where(self.t.batches.c.id == batch.id)
                         .values(done=batch.done, body=self.t.seal(batch.items_body())))

    def _batch_of(self, row: Any) -> Batch:
        return Batch(row.id, row.name, row.owner, row.enterprise, row.doc_type, _aware(row.created_at),
                     Batch.items_from(self.t.open(row.body)), bool(row.done))

    def _load_batch(self, batch_id: str) -> Batch | None:
        with self.t.engine.connect() as conn:
            row = conn.execute(select(self.t.batches).where(self.t.batches.c.id == batch_id)).first()
        return None if row is None else self._batch_of(row)

    def of(self, enterprise: str) -> list[Batch]:
        with self.t.engine.connect() as conn:
            rows = conn.execute(select(self.t.batches).where(self.t.batches.c.enterprise == enterprise)
                                .order_by(self.t.batches.c.created_at.desc())).all()
        with self._lock:
            return [self.batches.get(row.id) or self.batches.setdefault(row.id, self._batch_of(row)) for row in rows]


    def unfinished(self) -> list[Batch]:
        with self.t.engine.connect() as conn:
            rows = conn.execute(select(self.t.batches).where(self.t.batches.c.done.is_(False))
                                .order_by(self.t.batches.c.created_at)).all()
        with self._lock:
            return [self.batches.get(row.id) or self.batches.setdefault(row.id, self._batch_of(row)) for row in rows]


class SqlHandOffs(HandOffs):
    """:class:`HandOffs` in the database."""

    def __init__(self, tables: ConsoleTables) -> None:
        super().__init__()
        self.t = tables

    def _stored(self, parcel: Parcel) -> None:
        with self.t.engine.begin() as conn:
            conn.execute(insert(self.t.handoffs).values(
                id=parcel.id, warehouse=parcel.warehouse, courier=parcel.courier, created_at=parcel.created,
                result=parcel.result, body=self.t.seal({"data": parcel.data, "errors": parcel.errors})))

    def save(self, parcel: Parcel) -> None:
        with self.t.engine.begin() as conn:
            conn.execute(update(self.t.handoffs).where(self.t.handoffs.c.id == parcel.id).values(
                result=parcel.result, body=self.t.seal({"data": parcel.data, "errors": parcel.errors})))

    def _matching(self, attribute: str, value: str) -> list[Parcel]:
        with self.t.engine.connect() as conn:
            rows = conn.execute(select(self.t.handoffs).where(self.t.handoffs.c[attribute] == value)).all()
        out = []
        for row in rows:
            body = self.t.open(row.body)
            out.append(Parcel(row.id, row.warehouse, row.courier, {str(k): str(v) for k, v in body["data"].items()},
                              _aware(row.created_at), row.result, [str(e) for e in body.get("errors", [])]))
        return out
