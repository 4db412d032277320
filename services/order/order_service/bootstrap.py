"""`cbec run order`, the embedded demo and the tests build the order service here, from the settings
tree and the adapters they pass (store, tenants). With an HTTP API it also hosts the platforms' 179
payment-data interface (``order_service.data_open``)."""

from __future__ import annotations

from dataclasses import dataclass

from cbec.declaration.bootstrap import DeclarationBootstrap
from cbec.readmodel import ReadModel
from cbec.service import Service
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec.tenants import TenantRegistry

from order_service import application, domain
from order_service.data_open import wiring as data_open


@dataclass(frozen=True)
class OrderBootstrap(DeclarationBootstrap):
    def build(self, settings: Settings, tenants: TenantRegistry, store: EventStore, *,
              readmodel: ReadModel | None = None) -> Service:
        parts = super().build(settings, tenants, store, readmodel=readmodel)
        return data_open.mount(parts, settings, tenants, store, readmodel)


SERVICE = domain.SERVICE
BOOTSTRAP = OrderBootstrap(SERVICE, application.build)
build, check, process = BOOTSTRAP.build, BOOTSTRAP.check, BOOTSTRAP.process
