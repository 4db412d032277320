"""Load the tenant registry a process runs with."""

from __future__ import annotations

from collections.abc import Callable

from cbec.settings import Settings
from cbec.tenants import TenantRegistry


class NoTenants(SystemExit):
    """No registry is configured and no development stand-in was offered."""


def load_tenants(settings: Settings, fallback: Callable[[], TenantRegistry] | None = None) -> TenantRegistry:
    """The registry file named by ``CBEC_TENANTS_FILE``; without one, ``fallback`` (development only:
    ``cbec run`` offers the test kit's demo tenants when it is installed)."""
    if settings.tenants.file is not None:
        return TenantRegistry.from_file(settings.tenants.file)
    if fallback is None:
        raise NoTenants("cbec: CBEC_TENANTS_FILE is not set (a JSON list of the enterprises this platform serves)")
    return fallback()
