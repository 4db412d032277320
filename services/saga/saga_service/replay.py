"""Replay status messages to tenants from the saga's store, as new notifications.

``python -m saga_service.replay [--tenant CODE] [--since NOTIFICATION_ID]`` (same CBEC_* settings
as ``cbec run saga``); the running saga process then pushes them (in order, behind what each tenant
has queued) and its tenants can pull them.
"""

from __future__ import annotations

import argparse

from cbec.migrations.startup import prepare_database
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.tenants import TenantRegistry
from cbec.tenants_config import load_tenants

from saga_service import bootstrap
from saga_service.application import NAME, status_messages
from saga_service.notifications import Notifier
from saga_service.webhooks import WebhookNotifier


def replay(store: EventStore, notifier: Notifier | WebhookNotifier, *, tenant: str | None = None,
           since: int = 1) -> int:
    """Queue every status message published since ``since`` (for ``tenant``) for delivery again."""
    return notifier.replay([m for _, m in status_messages(store, tenant=tenant, since=since)])


def main(argv: list[str] | None = None, settings: Settings | None = None,
         tenants: TenantRegistry | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant")
    parser.add_argument("--since", type=int, default=1)
    args = parser.parse_args(argv)
    settings = settings or Settings()
    store = EventStore.open(settings.database.url, schema=settings.database.schema_for(NAME), name=NAME,
                            create=prepare_database(settings))
    notes = bootstrap.notifier_for(settings, tenants or load_tenants(settings), store)
    count = replay(store, notes, tenant=args.tenant, since=args.since)
    print(f"queued {count} status messages for redelivery")
    notes.store.close()
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
