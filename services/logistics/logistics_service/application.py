"""Wire the shared declaration application for waybills, waybill statuses and entry lists."""

from __future__ import annotations

from cbec.declaration import ceb_bridge, intake_validation
from cbec.declaration.application import DeclarationApp
from cbec.declaration.ports import DeclarationStore
from cbec.tenants import TenantRegistry

from logistics_service import domain


def build(store: DeclarationStore, tenants: TenantRegistry) -> DeclarationApp:
    return DeclarationApp(domain.DOC_TYPES, store, tenants, intake_validation.validator(), ceb_bridge.render,
                          waiting_for=domain.waiting_for)
