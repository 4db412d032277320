"""What a service does about the database schema before it opens its stores (``CBEC_DB_MIGRATE``)."""

from __future__ import annotations

import logging

from cbec.migrations import Revisions, is_postgres, status, upgrade
from cbec.settings import Settings

log = logging.getLogger("cbec.migrations")


class SchemaNotAtHead(SystemExit):
    """The database is not at this code's newest migration and the process may not migrate it."""

    def __init__(self, revisions: Revisions) -> None:
        self.revisions = revisions
        super().__init__(3)


def stores_make_tables(settings: Settings) -> bool:
    """Whether the process's stores make their own tables: only on SQLite (development), since on
    Postgres the migrations are the schema."""
    return not is_postgres(settings.database.url)


def prepare_database(settings: Settings) -> bool:
    """On Postgres: migrate to the newest revision (``CBEC_DB_MIGRATE=auto``, development) or check
    the database is there (``off``; always in production), refusing to start with one CRITICAL log
    line naming both revisions when it is not. Returns :func:`stores_make_tables`."""
    db = settings.database
    if stores_make_tables(settings):
        return True
    if settings.migrates_at_start:
        done = upgrade(db.url, db.schema_prefix)
        if done.current != done.head:
            log.info("migrated the database schema from %s to %s", done.current or "nothing", done.head,
                     extra={"from_revision": done.current, "to_revision": done.head})
        return False
    found = status(db.url, db.schema_prefix)
    if not found.at_head:
        log.critical("refusing to start: the database schema is not at this version's migration (%s): run"
                     " `cbec migrate` first (in Kubernetes the chart's migration Job does, before every"
                     " install and upgrade)", found.describe(),
                     extra={"current_revision": found.current, "head_revision": found.head})
        raise SchemaNotAtHead(found)
    return False
