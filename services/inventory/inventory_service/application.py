"""Wire the shared lifecycle engine with the policies for lists, cancels and returns, and the buyer quota."""

from __future__ import annotations

from typing import Unpack

from cbec.declaration import ceb_bridge, intake_validation
from cbec.declaration.application import DeclarationApp
from cbec.declaration.core import EngineOptions
from cbec.declaration.ports import DeclarationStore
from cbec.quota.guard import ANNUAL_CODE, SINGLE_CODE, QuotaGuard
from cbec.quota.settings import QuotaSettings
from cbec.tenants import TenantRegistry

from inventory_service import domain


def build(
    store: DeclarationStore,
    tenants: TenantRegistry,
    quota: QuotaSettings | None = None,
    **options: Unpack[EngineOptions],
) -> DeclarationApp:
    """The quota guard (this service's intake guard) applies the configured limits, so the CEB core's
    fixed-limit rules are left out."""
    return DeclarationApp(
        domain.POLICIES,
        store,
        tenants,
        intake_validation.validator(drop_codes={SINGLE_CODE, ANNUAL_CODE}),
        ceb_bridge.render,
        guards=[QuotaGuard(store, quota)],
        **options,
    )
