"""`cbec notifications count|unblock`: the operators' view of the saga's notification service.

Both work on the saga's database (the same ``CBEC_DATABASE_URL``/``CBEC_SCHEMA_PREFIX`` as ``cbec run
saga``), so they need no API key; a running saga sees an unblock within its idle pause (5 s). Over
HTTP the same is ``GET /v1/operator/notifications`` and ``POST /v1/operator/notifications/{tenant}/unblock``
with an operator's key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from cbec.settings import Settings

if TYPE_CHECKING:  # the saga's modules load when a command runs, not for `cbec --help`
    from saga_service.notification_store import NotificationStore


@contextmanager
def opened(settings: Settings) -> Iterator[NotificationStore]:
    """The saga's notification tables (on Postgres migrated or checked first, as a service does)."""
    from cbec.migrations.startup import prepare_database
    from cbec.store.event_store import EventStore
    from saga_service.application import NAME
    from saga_service.notification_store import NotificationStore

    store = EventStore.open(settings.database.url, schema=settings.database.schema_for(NAME), name=NAME,
                            create=prepare_database(settings))
    try:
        notes = NotificationStore.beside(store)
        try:
            yield notes
        finally:
            notes.close()
    finally:
        store.close()


def count_lines(notes: NotificationStore, tenant: str | None) -> list[str]:
    """One JSON object a tenant: queued and failed counts, whether its callback is blocked and since when."""
    return [json.dumps(state.to_json(), ensure_ascii=False) for state in notes.states(tenant)]


def unblock_line(notes: NotificationStore, tenant: str) -> tuple[int, str]:
    """Unblock ``tenant``: (exit code, the line to print)."""
    if not notes.states(tenant):
        return 1, f"{tenant}: no notifications for this tenant"
    if notes.unblock(tenant):
        return 0, f"{tenant}: unblocked; its queue drains in order"
    return 0, f"{tenant}: was not blocked"


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The saga's notifications: count per tenant, unblock a tenant's callback.",
                        no_args_is_help=True)

    @group.command("count")
    def count(tenant: Annotated[str | None, typer.Option(help="only this tenant (customs code)")] = None) -> None:
        """Print each tenant's queued and failed notifications and its breaker, one JSON object a line."""
        with opened(Settings()) as notes:
            for line in count_lines(notes, tenant):
                typer.echo(line)

    @group.command("unblock")
    def unblock(tenant: Annotated[str, typer.Option(help="the tenant (customs code) to unblock")]) -> None:
        """Let a blocked tenant's notifications go to its callback again, oldest first."""
        with opened(Settings()) as notes:
            code, line = unblock_line(notes, tenant)
        typer.echo(line, err=code != 0)
        raise typer.Exit(code)

    app.add_typer(group, name="notifications")
