"""Durable state of the 179 interface, beside the order service's tables: the platforms' payment raw
data per order, customs' requests (one row per ``sessionID``: the repeat of a request is a no-op) and
the audit log. Every table is pruned after the retention period (3 years by default, 公告179).

The payment raw data holds personal data (the raw request and response of the payment): it is
stored encrypted under ``CBEC_PII_KEYS`` when set, and never logged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cbec.privacy.cipher import AesGcmCipher
from cbec.readmodel.tables import create_tables, open_engine
from cbec.store.recorders import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from order_service.data_open.payment_data import PaymentRawData

State = Literal["pending", "uploaded", "failed"]


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """One request of customs for an order's payment data."""

    session_id: str
    platform: str
    order_no: str
    service_time: int
    received_at: datetime
    state: State
    attempts: int
    next_at: datetime
    result: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    platform: str
    session_id: str
    order_no: str
    event: str
    detail: str


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite drops the zone


class DataOpenStore:
    """Tables ``order_data_open_payments``, ``…_requests`` and ``…_audit``."""

    def __init__(self, engine: Engine, *, schema: str | None = None, cipher: AesGcmCipher | None = None) -> None:
        self.engine = engine
        self.schema = schema if engine.dialect.name == "postgresql" else None
        self.cipher = cipher
        md = self.metadata = MetaData(schema=self.schema)
        self.payments = Table(
            "order_data_open_payments", md,
            Column("platform", String(18), primary_key=True),
            Column("order_no", String(60), primary_key=True),
            Column("body", LargeBinary, nullable=False),
            Column("received_at", DateTime(timezone=True), nullable=False, index=True),
        )
        self.requests = Table(
            "order_data_open_requests", md,
            Column("session_id", String(100), primary_key=True),
            Column("platform", String(18), nullable=False),
            Column("order_no", String(60), nullable=False),
            Column("service_time", BigInteger, nullable=False),
            Column("received_at", DateTime(timezone=True), nullable=False, index=True),
            Column("state", String(10), nullable=False),
            Column("attempts", Integer, nullable=False),
            Column("next_at", DateTime(timezone=True), nullable=False, index=True),
            Column("result", String(400), nullable=False),
        )
        self.audit_log = Table(
            "order_data_open_audit", md,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("at", DateTime(timezone=True), nullable=False, index=True),
            Column("platform", String(18), nullable=False),
            Column("session_id", String(100), nullable=False),
            Column("order_no", String(60), nullable=False),
            Column("event", String(30), nullable=False),
            Column("detail", String(400), nullable=False),
        )

    @classmethod
    def open(cls, url: str, *, schema: str | None = None, cipher: AesGcmCipher | None = None,
             pool_size: int = DEFAULT_POOL_SIZE, max_overflow: int = DEFAULT_MAX_OVERFLOW,
             create: bool = True) -> DataOpenStore:
        store = cls(open_engine(url, pool_size=pool_size, max_overflow=max_overflow), schema=schema, cipher=cipher)
        if create:  # else the migrations made the tables (cbec.migrations)
            store.create()
        return store

    def create(self) -> None:
        create_tables(self.engine, self.metadata, self.schema, f"cbec-data-open-ddl:{self.schema}")

    def close(self) -> None:
        self.engine.dispose()

    # payment raw data

    def put_payment(self, platform: str, data: PaymentRawData, at: datetime) -> list[str]:
        """Store ``data`` for each order it covers (a later submission for an order replaces the earlier)."""
        body = data.model_dump_json().encode()
        sealed = self.cipher.encrypt(body) if self.cipher is not None else body
        orders = data.order_numbers()
        with self.engine.begin() as conn:
            conn.execute(delete(self.payments).where(
                and_(self.payments.c.platform == platform, self.payments.c.order_no.in_(orders))))
            conn.execute(insert(self.payments), [
                {"platform": platform, "order_no": o, "body": sealed, "received_at": at} for o in orders])
            conn.execute(insert(self.audit_log), [
                _audit(at, platform, "", o, "payment-data", f"payment {data.payExchangeInfoHead.guid}")
                for o in orders])
        return orders

    def payment_for(self, platform: str, order_no: str) -> PaymentRawData | None:
        """The payment raw data ``platform`` submitted for ``order_no`` (never another platform's)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(self.payments.c.body).where(
                and_(self.payments.c.platform == platform, self.payments.c.order_no == order_no))).first()
        if row is None:
            return None
        body = bytes(row.body)
        return PaymentRawData.model_validate_json(self.cipher.decrypt(body) if self.cipher is not None else body)

    # customs' requests

    def record_request(self, platform: str, session_id: str, order_no: str, service_time: int,
                       at: datetime) -> bool:
        """Record a request durably; False when its ``sessionID`` was recorded before (nothing changes)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.requests).values(
                    session_id=session_id, platform=platform, order_no=order_no, service_time=service_time,
                    received_at=at, state="pending", attempts=0, next_at=at, result=""))
                conn.execute(insert(self.audit_log).values(
                    _audit(at, platform, session_id, order_no, "requested", "")))
        except IntegrityError:
            self.audit(at, platform, session_id, order_no, "repeated", "sessionID recorded before")
            return False
        return True

    def request(self, session_id: str) -> OpenRequest | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.requests).where(self.requests.c.session_id == session_id)).first()
        return _request(row) if row is not None else None

    def due(self, at: datetime, limit: int = 50) -> list[OpenRequest]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(self.requests).where(
                and_(self.requests.c.state == "pending", self.requests.c.next_at <= at))
                .order_by(self.requests.c.next_at).limit(limit)).all()
        return [_request(r) for r in rows]

    def next_due(self) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.min(self.requests.c.next_at))
                                 .where(self.requests.c.state == "pending")).scalar()
        return _utc(value) if value is not None else None

    def settle(self, req: OpenRequest, state: State, *, at: datetime, event: str, detail: str,
               next_at: datetime | None = None) -> None:
        """Record an attempt's outcome and its audit entry in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(update(self.requests).where(self.requests.c.session_id == req.session_id).values(
                state=state, attempts=req.attempts + 1, next_at=next_at or at, result=detail[:400]))
            conn.execute(insert(self.audit_log).values(
                _audit(at, req.platform, req.session_id, req.order_no, event, detail)))

    # audit log and retention

    def audit(self, at: datetime, platform: str, session_id: str, order_no: str, event: str, detail: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(self.audit_log).values(_audit(at, platform, session_id, order_no, event, detail)))

    def audit_entries(self, platform: str | None = None) -> list[AuditEntry]:
        query = select(self.audit_log).order_by(self.audit_log.c.id)
        if platform is not None:
            query = query.where(self.audit_log.c.platform == platform)
        with self.engine.connect() as conn:
            rows: Sequence[object] = conn.execute(query).all()
        return [AuditEntry(_utc(r.at), r.platform, r.session_id, r.order_no, r.event, r.detail)  # type: ignore[attr-defined]
                for r in rows]

    def prune(self, at: datetime, retention: timedelta) -> int:
        """Delete what is older than the retention period; the number of rows deleted."""
        cutoff = at - retention
        with self.engine.begin() as conn:
            deleted = conn.execute(delete(self.audit_log).where(self.audit_log.c.at < cutoff)).rowcount
            deleted += conn.execute(delete(self.requests).where(self.requests.c.received_at < cutoff)).rowcount
            deleted += conn.execute(delete(self.payments).where(self.payments.c.received_at < cutoff)).rowcount
        return int(deleted)


def _audit(at: datetime, platform: str, session_id: str, order_no: str, event: str, detail: str) -> dict[str, object]:
    return {"at": at, "platform": platform, "session_id": session_id, "order_no": order_no,
            "event": event, "detail": detail[:400]}


def _request(row: object) -> OpenRequest:
    r = row._mapping  # type: ignore[attr-defined]
    return OpenRequest(r["session_id"], r["platform"], r["order_no"], int(r["service_time"]),
                       _utc(r["received_at"]), r["state"], int(r["attempts"]), _utc(r["next_at"]), r["result"])
