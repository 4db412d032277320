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
    from cbec.store.event_store import EventStore
    from saga_service.notification_store import NotificationStore


@contextmanager
def opened(settings: Settings) -> Iterator[NotificationStore]:
    """The saga's notification tables (on Postgres migrated or checked first, as a service does)."""
    with opened_with_events(settings) as (notes, _):
        yield notes


@contextmanager
def opened_with_events(settings: Settings) -> Iterator[tuple[NotificationStore, EventStore]]:
    """:func:`opened` and the saga's event store beside it (where an unblock is recorded for operators)."""
    from cbec.migrations.startup import prepare_database
    from cbec.store.event_store import EventStore
    from saga_service.application import NAME
    from saga_service.notification_store import NotificationStore

    store = EventStore.open(settings.database.url, schema=settings.database.schema_for(NAME), name=NAME,
                            create=prepare_database(settings))
    try:
        notes = NotificationStore.beside(store)
        try:
            yield notes, store
        finally:
            notes.close()
    finally:
        store.close()


def count_lines(notes: NotificationStore, tenant: str | None) -> list[str]:
    """One JSON object a tenant: queued and failed counts, whether its callback is blocked and since when."""
    return [json.dumps(state.to_json(), ensure_ascii=False) for state in notes.states(tenant)]


def unblock_line(notes: NotificationStore, tenant: str, events: EventStore | None = None) -> tuple[int, str]:
    """Unblock ``tenant``: (exit code, the line to print); the circuit's closing is stored in ``events`` (the
    saga's store, whose relay publishes it on ``cbec.ops.notification-circuits``)."""
    if not notes.states(tenant):
        return 1, f"{tenant}: no notifications for this tenant"
    if notes.unblock(tenant):
        from cbec.clock import SystemClock
        from saga_service import circuits

        circuits.record(events, circuits.closed(tenant, SystemClock().now()))
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
        with opened_with_events(Settings()) as (notes, events):
            code, line = unblock_line(notes, tenant, events)
        typer.echo(line, err=code != 0)
        raise typer.Exit(code)

    app.add_typer(group, name="notifications")
