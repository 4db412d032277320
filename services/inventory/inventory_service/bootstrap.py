"""`cbec run inventory`, the embedded demo and the tests build the inventory service here, from the settings
tree and the adapters they pass (store, tenants; the quota's limits and buyer key come from the settings)."""

from __future__ import annotations

from functools import partial

from cbec.declaration.bootstrap import AppBuilder, DeclarationBootstrap
from cbec.quota.settings import QuotaSettings
from cbec.settings import Settings

from inventory_service import application, domain

SERVICE = domain.SERVICE


class _InventoryBootstrap(DeclarationBootstrap):
    def application_for(self, settings: Settings) -> AppBuilder:
        """The quota guard applies the configured limits and buyer key."""
        return partial(application.build, quota=QuotaSettings.from_settings(settings))


BOOTSTRAP = _InventoryBootstrap(SERVICE, application.build, buyer_keys=True)
build, check, process = BOOTSTRAP.build, BOOTSTRAP.check, BOOTSTRAP.process
