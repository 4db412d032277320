"""The platform's Postgres schema, managed by Alembic: ``cbec migrate`` (a Helm hook Job in Kubernetes)
brings a database to the newest revision; a service checks it is there before it starts.

The migrations are the one source of truth for the schema on Postgres: a service process never makes
its tables itself there (``CBEC_DB_MIGRATE=auto``, the development default, runs this upgrade at start;
``off``, forced by ``CBEC_ENV=production``, only checks). Every service's tables live in its schema
``<CBEC_SCHEMA_PREFIX><service>``; the revision table in ``<prefix>migrations.alembic_version``, so
prefixes sharing one database (test runs) migrate independently. A SQLite store (development only)
makes its own tables from the same definitions the migrations were written from; a test proves both
give the same schema (tests/integration/test_migrations_postgres.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from cbec.readmodel.tables import open_engine

HERE = Path(__file__).parent
VERSION_SCHEMA = "migrations"  # after the prefix: cbec_migrations.alembic_version
_PREFIX = re.compile(r"^([a-z_][a-z0-9_]{0,28})?$")
# Alembic's own INFO lines ("Context impl PostgresqlImpl." …) say nothing an operator needs; cbec logs
# what changed (cbec migrate, cbec.migrations.startup).
logging.getLogger("alembic").setLevel(logging.WARNING)


def version_schema(prefix: str) -> str:
    return prefix + VERSION_SCHEMA


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://", "postgres+psycopg://"))


def config(prefix: str, connection: Connection | None = None) -> Config:
    """An Alembic configuration for the schemas of ``prefix`` (no ini file: all of it is here)."""
    if not _PREFIX.match(prefix):
        raise ValueError(f"CBEC_SCHEMA_PREFIX must match {_PREFIX.pattern}: {prefix!r}")
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    cfg.attributes["schema_prefix"] = prefix
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision this code knows."""
    found = ScriptDirectory.from_config(config("")).get_current_head()
    if found is None:
        raise RuntimeError("no migration revisions found")
    return found


@dataclass(frozen=True, slots=True)
class Revisions:
    """Where a database stands: ``current`` (None: never migrated) against this code's ``head``."""

    current: str | None
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        return f"database at {self.current or 'no revision (never migrated)'}, head is {self.head}"


def _engine(url: str) -> Engine:
    if not is_postgres(url):
        raise ValueError("migrations apply to Postgres only (a SQLite store makes its own tables)")
    return open_engine(url, pool_size=1, max_overflow=0)


def current(connection: Connection, prefix: str) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table_schema": version_schema(prefix)})
    return context.get_current_revision()


def status(url: str, prefix: str) -> Revisions:
    """The database's revision and the code's head (reads only)."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return Revisions(current(conn, prefix), head())
    finally:
        engine.dispose()


def upgrade(url: str, prefix: str, target: str = "head") -> Revisions:
    """Bring the schemas of ``prefix`` to ``target``; a no-op when they are there. Runners (Jobs,
    replicas starting in development) take turns on a session advisory lock per prefix, so two never
    run the same revision. Returns the revisions before (``current``) and after (``head``)."""
    engine = _engine(url)
    lock = {"key": f"cbec-migrate:{prefix}"}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), lock)
            conn.commit()
            try:
                before = current(conn, prefix)
                conn.commit()
                command.upgrade(config(prefix, conn), target)
                conn.commit()
                return Revisions(before, current(conn, prefix) or "")
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:key))"), lock)
                conn.commit()
    finally:
        engine.dispose()
