"""Alembic's environment for cbec: run by :func:`cbec.migrations.upgrade` on its own (locked) connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from cbec.migrations import version_schema


def run() -> None:
    config = context.config
    connection: Connection | None = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run the migrations with `cbec migrate` (cbec.migrations.upgrade), not `alembic`")
    prefix = str(config.attributes["schema_prefix"])
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{version_schema(prefix)}"'))
    context.configure(connection=connection, version_table_schema=version_schema(prefix),
                      transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("cbec's migrations run online only (cbec migrate)")
run()
