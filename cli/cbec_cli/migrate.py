"""`cbec migrate`: bring the Postgres schema to this version's newest migration (the chart's hook Job
runs it before every install and upgrade); `cbec migrate --check` only says whether it is there."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import typer
from cbec.logging_setup import configure_logging
from cbec.settings import Settings

log = logging.getLogger("cbec.migrations")


def register(app: typer.Typer) -> None:
    @app.command()
    def migrate(
        check: Annotated[bool, typer.Option("--check", help="Change nothing: exit 1 unless the database is at"
                                                           " the newest migration.")] = False,
    ) -> None:
        """Migrate the database (CBEC_DATABASE_URL, schemas CBEC_SCHEMA_PREFIX*) to the newest revision.

        Safe to run again (a no-op at the newest revision) and from several places at once (runners take
        turns on an advisory lock). SQLite stores (development only) make their own tables: nothing to do."""
        from cbec import migrations

        configure_logging("INFO")  # a failure (e.g. no database) is one JSON line
        settings = Settings()
        db = settings.database
        if not migrations.is_postgres(db.url):
            typer.echo("cbec migrate: the database is not Postgres: SQLite stores make their own tables")
            return
        if check:
            found = migrations.status(db.url, db.schema_prefix)
            typer.echo(json.dumps({"current": found.current, "head": found.head, "atHead": found.at_head}))
            if not found.at_head:
                typer.echo(f"cbec migrate --check: behind: {found.describe()}; run `cbec migrate`", err=True)
                raise typer.Exit(1)
            return
        done = migrations.upgrade(db.url, db.schema_prefix)
        log.info("database schema at %s (was %s)", done.head, done.current or "never migrated",
                 extra={"from_revision": done.current, "to_revision": done.head})
        typer.echo(json.dumps({"from": done.current, "to": done.head}))
