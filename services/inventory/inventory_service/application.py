"""Wire the shared declaration application for lists, cancels and returns, with the buyer quota."""

from __future__ import annotations

from cbec.declaration import ceb_bridge, intake_validation
from cbec.declaration.application import DeclarationApp
from cbec.declaration.ports import DeclarationStore
from cbec.quota.guard import ANNUAL_CODE, SINGLE_CODE, QuotaGuard
from cbec.quota.settings import QuotaSettings
from cbec.tenants import TenantRegistry

from inventory_service import domain


def build(
    store: DeclarationStore, tenants: TenantRegistry, quota: QuotaSettings | None = None
) -> DeclarationApp:
    """The quota guard applies the configured limits, so the CEB core's fixed-limit rules are left out."""
    return DeclarationApp(
        domain.DOC_TYPES,
        store,
        tenants,
        intake_validation.validator(drop_codes={SINGLE_CODE, ANNUAL_CODE}),
        ceb_bridge.render,
        waiting_for=domain.waiting_for,
        guards=[QuotaGuard(store, quota)],
    )
