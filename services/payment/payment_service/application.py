"""Wire the shared lifecycle engine with this service's policies for payments."""

from __future__ import annotations

from typing import Unpack

from cbec.declaration import ceb_bridge, intake_validation
from cbec.declaration.application import DeclarationApp
from cbec.declaration.core import EngineOptions
from cbec.declaration.ports import DeclarationStore
from cbec.tenants import TenantRegistry

from payment_service import domain


def build(
    store: DeclarationStore, tenants: TenantRegistry, **options: Unpack[EngineOptions]
) -> DeclarationApp:
    return DeclarationApp(domain.POLICIES, store, tenants, intake_validation.validator(), ceb_bridge.render,
                          **options)
