"""The sandbox guarantee: nothing of a sandbox tenant reaches a production customs link.

A tenant starts in the sandbox (``"sandbox": true`` in the tenants file, as the console's onboarding
keeps it until an operator promotes it): it talks only to the simulator, as the seeds' test environment.
The customs link of a production deployment knows only :func:`link_tenants` (a sandbox tenant's message
finds no sender there, so it is never written where customs reads); :func:`guard_link` is the same rule
for one tenant, for a link that checks each message itself.
"""

from __future__ import annotations

from cbec.tenants import Tenant, TenantRegistry


class SandboxTenantBlocked(RuntimeError):
    """A sandbox tenant's message was about to reach a production customs link."""

    def __init__(self, customs_code: str) -> None:
        super().__init__(f"tenant {customs_code} is in the sandbox: nothing of it may reach a production customs link")
        self.customs_code = customs_code


def may_reach(tenant: Tenant, *, production_link: bool) -> bool:
    """Whether ``tenant``'s messages may go out on this link (a sandbox tenant: only a non-production one)."""
    return not (production_link and tenant.sandbox)


def guard_link(tenant: Tenant, *, production_link: bool) -> None:
    """Raise :class:`SandboxTenantBlocked` when ``tenant`` is a sandbox tenant and the link is production."""
    if not may_reach(tenant, production_link=production_link):
        raise SandboxTenantBlocked(tenant.customs_code)


def link_tenants(tenants: TenantRegistry, *, production_link: bool) -> TenantRegistry:
    """The tenants a customs link may send for: on a production link every tenant but the sandbox ones."""
    if not production_link:
        return tenants
    return TenantRegistry([t for t in tenants.all() if may_reach(t, production_link=True)])
