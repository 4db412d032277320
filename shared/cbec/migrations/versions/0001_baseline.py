"""Baseline: every table the services made at start before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2026-12-08

Each service's schema ``<prefix><service>`` holds its event store (the eventsourcing library's
``<service>_events`` with its notification index, composite type and insert function, and
``<service>_tracking``: consumer positions and the outbox relay's); the declaration services add their
read model, the order service its 179 store, the saga its schedules and notification tables.

Frozen: never edit a revision once released; a change is a new revision. Everything is created "if
not exists", so a database made by the services' former start-up DDL adopts this revision unchanged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

DECLARATION_SERVICES = ("order", "payment", "logistics", "inventory")
EVENT_STORES = (*DECLARATION_SERVICES, "receipts", "saga")
_AUTOVACUUM = ("WITH (autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000,"
               " autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_threshold = 1000,"
               " autovacuum_analyze_scale_factor = 0.01)")


def _prefix() -> str:
    return str(op.get_context().config.attributes["schema_prefix"])  # type: ignore[union-attr]


def upgrade() -> None:
    prefix = _prefix()
    for service in EVENT_STORES:
        schema = prefix + service
        op.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        _event_store(schema, service)
    for service in DECLARATION_SERVICES:
        _read_model(prefix + service, service)
    _data_open(prefix + "order")
    _saga(prefix + "saga", "saga")


def downgrade() -> None:
    prefix = _prefix()
    for service in EVENT_STORES:
        op.execute(f'DROP SCHEMA IF EXISTS "{prefix + service}" CASCADE')


def _take_turns(key: str) -> None:
    """The advisory lock a store's own start-up DDL takes (the SQLite-era code path, tests)."""
    op.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))").bindparams(key=key))


def _event_store(schema: str, service: str) -> None:
    """What ``eventsourcing`` 9.5's ``PostgresProcessRecorder.create_table`` makes (single-row tracking)."""
    events, tracking = f'"{schema}"."{service}_events"', f'"{schema}"."{service}_tracking"'
    _take_turns(f"cbec-ddl:{schema}.{service}")  # with a store of an older version making them
    op.execute(
        f"CREATE TABLE IF NOT EXISTS {events} (originator_id uuid NOT NULL, originator_version bigint NOT NULL,"
        f" topic text, state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
        f" {_AUTOVACUUM}")
    op.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "{service}_events_notification_id_idx"'
               f" ON {events} (notification_id ASC)")
    op.execute(  # no IF NOT EXISTS for types
        f"DO $$ BEGIN CREATE TYPE \"{schema}\".stored_event_uuid AS (originator_id uuid,"
        f" originator_version bigint, topic text, state bytea); EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    op.execute(
        f'CREATE OR REPLACE FUNCTION "{schema}".es_insert_events_uuid(events "{schema}".stored_event_uuid[])'
        f" RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$BEGIN    SET LOCAL lock_timeout = '0s';"
        f'    NOTIFY "{service}_events";    RETURN QUERY    INSERT INTO {events} AS t ('
        f"    originator_id, originator_version, topic, state)    SELECT originator_id, originator_version,"
        f" topic, state    FROM unnest(events)    RETURNING notification_id;END;$BODY$")
    op.execute(f"CREATE TABLE IF NOT EXISTS {tracking} (application_name text, notification_id bigint,"
               f" PRIMARY KEY (application_name)) {_AUTOVACUUM}")
    # The library's marker that its tracking table is the single-row kind (else it would convert it).
    op.execute(f"INSERT INTO {tracking} VALUES ('__migration__', 1) ON CONFLICT DO NOTHING")


def _read_model(schema: str, service: str) -> None:
    """``cbec.readmodel.tables.ReadModel``."""
    _take_turns(f"cbec-readmodel-ddl:{schema}.{service}")
    op.create_table(
        f"{service}_documents",
        sa.Column("stream_id", sa.String(36), primary_key=True),
        sa.Column("doc_type", sa.String(10), nullable=False),
        sa.Column("business_key", sa.String(400), nullable=False),
        sa.Column("status", sa.String(200), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("phase", sa.String(30), nullable=False),
        sa.Column("clearance_key", sa.String(200), nullable=False),
        sa.Column("sender", sa.String(40), nullable=False),
        sa.Column("created_seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema, if_not_exists=True,
    )
    op.create_table(
        f"{service}_document_parties",
        sa.Column("stream_id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(40), primary_key=True),
        schema=schema, if_not_exists=True,
    )
    op.create_index(f"ix_{service}_document_parties_code", f"{service}_document_parties", ["code", "stream_id"],
                    schema=schema, if_not_exists=True)
    op.create_table(
        f"{service}_readmodel_tracking",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        schema=schema, if_not_exists=True,
    )


def _data_open(schema: str) -> None:
    """``order_service.data_open.store.DataOpenStore`` (index names carry the schema, as SQLAlchemy named them)."""
    _take_turns(f"cbec-data-open-ddl:{schema}")
    op.create_table(
        "order_data_open_payments",
        sa.Column("platform", sa.String(18), primary_key=True),
        sa.Column("order_no", sa.String(60), primary_key=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema, if_not_exists=True,
    )
    op.create_table(
        "order_data_open_requests",
        sa.Column("session_id", sa.String(100), primary_key=True),
        sa.Column("platform", sa.String(18), nullable=False),
        sa.Column("order_no", sa.String(60), nullable=False),
        sa.Column("service_time", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(400), nullable=False),
        schema=schema, if_not_exists=True,
    )
    op.create_table(
        "order_data_open_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(18), nullable=False),
        sa.Column("session_id", sa.String(100), nullable=False),
        sa.Column("order_no", sa.String(60), nullable=False),
        sa.Column("event", sa.String(30), nullable=False),
        sa.Column("detail", sa.String(400), nullable=False),
        schema=schema, if_not_exists=True,
    )
    for table, column in (("order_data_open_payments", "received_at"), ("order_data_open_requests", "received_at"),
                          ("order_data_open_requests", "next_at"), ("order_data_open_audit", "at")):
        op.create_index(f"ix_{schema}_{table}_{column}", table, [column], schema=schema, if_not_exists=True)


def _saga(schema: str, service: str) -> None:
    """``saga_service.schedule.Schedule`` (deadlines, webhooks) and ``…notification_store.NotificationStore``."""
    for name in ("deadlines", "webhooks"):
        op.execute(f'CREATE TABLE IF NOT EXISTS "{schema}"."{service}_{name}" (item TEXT PRIMARY KEY,'
                   " due BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 0)")
        op.execute(f'CREATE INDEX IF NOT EXISTS "{service}_{name}_due" ON "{schema}"."{service}_{name}" (due)')
    op.create_table(
        f"{service}_notifications",
        sa.Column("tenant", sa.String(40), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("notification_id", sa.String(200), nullable=False, unique=True),
        sa.Column("correlation_id", sa.String(400), nullable=False),
        sa.Column("clearance_key", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("business_key", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.String(300), nullable=False),
        sa.Column("delivered", sa.BigInteger, nullable=True),
        sa.Column("acknowledged", sa.BigInteger, nullable=True),
        schema=schema, if_not_exists=True,
    )
    op.create_index(f"{service}_notifications_created", f"{service}_notifications", ["created"], schema=schema,
                    if_not_exists=True)
    op.create_index(f"{service}_notifications_state", f"{service}_notifications", ["tenant", "state", "seq"],
                    schema=schema, if_not_exists=True)
    op.create_table(
        f"{service}_notification_tenants",
        sa.Column("tenant", sa.String(40), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("blocked", sa.Integer, nullable=False),
        sa.Column("blocked_since", sa.BigInteger, nullable=True),
        sa.Column("probe_due", sa.BigInteger, nullable=True),
        sa.Column("probes", sa.Integer, nullable=False),
        sa.Column("last_error", sa.String(300), nullable=False),
        sa.Column("claimed_until", sa.BigInteger, nullable=False),
        schema=schema, if_not_exists=True,
    )
