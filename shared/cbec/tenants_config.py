"""Load the tenant registry a process runs with (its callback URLs checked)."""

from __future__ import annotations

from collections.abc import Callable

from cbec import production
from cbec.declaration.strategies import PRESETS
from cbec.net.callbacks import CallbackGuard, Resolver, vet
from cbec.settings import Settings
from cbec.tenants import TenantRegistry


class NoTenants(SystemExit):
    """No registry is configured and no development stand-in was offered."""


def load_tenants(settings: Settings, fallback: Callable[[], TenantRegistry] | None = None, *,
                 resolver: Resolver | None = None) -> TenantRegistry:
    """The registry file named by ``CBEC_TENANTS_FILE``; without one, ``fallback`` (development only:
    ``cbec run`` offers the test kit's demo tenants when it is installed).

    Every ``callbackUrl`` is checked (:mod:`cbec.net.callbacks`): in production a refused one stops the
    process; in development it is logged and that tenant's callbacks are disabled.
    """
    if settings.tenants.file is not None:
        registry = TenantRegistry.from_file(settings.tenants.file)
    elif fallback is None:
        raise NoTenants("cbec: CBEC_TENANTS_FILE is not set (a JSON list of the enterprises this platform serves)")
    else:
        registry = fallback()
    unknown = [f"{t.customs_code}: {t.strategy!r}" for t in registry.all() if t.strategy and t.strategy not in PRESETS]
    if unknown:
        raise NoTenants(f"cbec: tenants name strategies that do not exist ({'; '.join(unknown)}); the presets are "
                        f"{', '.join(PRESETS)}")
    vetted, problems = vet(registry, CallbackGuard(production=settings.production, resolver=resolver))
    production.require(settings, problems)
    return vetted
