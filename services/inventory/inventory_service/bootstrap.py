"""`cbec run inventory`, the embedded demo and the tests build the inventory service here, from the settings
tree and the adapters they pass (store, tenants; the quota's limits and buyer key come from the settings)."""

from __future__ import annotations

from cbec.declaration import bootstrap as shared
from cbec.declaration.batching import BatchingDeclarations
from cbec.quota.settings import QuotaSettings
from cbec.readmodel import ReadModel
from cbec.runtime import ServiceProcess
from cbec.service import Service, as_process
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.tenants import TenantRegistry

from inventory_service import application, domain

SERVICE = domain.SERVICE


def build(
    settings: Settings, tenants: TenantRegistry, store: EventStore, *, readmodel: ReadModel | None = None
) -> Service:
    """The inventory service on ``store`` (intake batches commit in one transaction each)."""
    declarations = BatchingDeclarations(store)
    app = shared.configure(application.build(declarations, tenants, QuotaSettings.from_settings(settings)), settings)
    return shared.service(SERVICE, app, store, declarations, settings, readmodel)


def process(settings: Settings, tenants: TenantRegistry) -> ServiceProcess:
    """The inventory service as a process on Kafka and the configured database."""
    shared.check(settings, buyer_keys=True)
    store = shared.open_store(settings, SERVICE)
    return as_process(build(settings, tenants, store, readmodel=shared.open_readmodel(settings, SERVICE)), settings)
