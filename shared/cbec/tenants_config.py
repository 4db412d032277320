"""Load the tenant registry a process runs with."""

from __future__ import annotations

from cbec.settings import Settings
from cbec.tenants import TenantRegistry, demo_registry


def load_tenants(settings: Settings) -> TenantRegistry:
    """The registry file named by ``CBEC_TENANTS_FILE``, else the built-in demo tenants."""
    if settings.tenants_file is not None:
        return TenantRegistry.from_file(settings.tenants_file)
    return demo_registry()
