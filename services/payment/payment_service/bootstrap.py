"""`cbec run payment`, the embedded demo and the tests build the payment service here, from the settings
tree and the adapters they pass (store, tenants)."""

from __future__ import annotations

from cbec.declaration import bootstrap as shared
from cbec.declaration.batching import BatchingDeclarations
from cbec.readmodel import ReadModel
from cbec.runtime import ServiceProcess
from cbec.service import Service, as_process
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.tenants import TenantRegistry

from payment_service import application, domain

SERVICE = domain.SERVICE


def build(
    settings: Settings, tenants: TenantRegistry, store: EventStore, *, readmodel: ReadModel | None = None
) -> Service:
    """The payment service on ``store`` (intake batches commit in one transaction each)."""
    declarations = BatchingDeclarations(store)
    app = shared.configure(application.build(declarations, tenants), settings)
    return shared.service(SERVICE, app, store, declarations, settings, readmodel)


def process(settings: Settings, tenants: TenantRegistry) -> ServiceProcess:
    """The payment service as a process on Kafka and the configured database."""
    shared.check(settings)
    store = shared.open_store(settings, SERVICE)
    return as_process(build(settings, tenants, store, readmodel=shared.open_readmodel(settings, SERVICE)), settings)
