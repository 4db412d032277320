"""A sandbox tenant never reaches a production customs link; the simulator (a non-production link) takes it."""

from __future__ import annotations

import pytest
from cbec.sandbox import SandboxTenantBlocked, guard_link, link_tenants, may_reach
from cbec.tenants import TenantRegistry

TENANTS = TenantRegistry.from_json([
    {"customsCode": "3105960001", "name": "新平台", "roles": ["platform"], "dxpId": "DXPENT0000000001",
     "sandbox": True},
    {"customsCode": "3105960002", "name": "老平台", "roles": ["platform"], "dxpId": "DXPENT0000000002"},
])


def test_a_sandbox_tenant_is_stopped_at_a_production_link_and_named() -> None:
    newcomer = TENANTS.get("3105960001")
    assert newcomer.sandbox
    with pytest.raises(SandboxTenantBlocked, match="3105960001"):
        guard_link(newcomer, production_link=True)


def test_a_sandbox_tenant_talks_to_the_simulator() -> None:
    guard_link(TENANTS.get("3105960001"), production_link=False)
    assert may_reach(TENANTS.get("3105960001"), production_link=False)


def test_a_promoted_tenant_reaches_production() -> None:
    promoted = TENANTS.get("3105960002")
    assert not promoted.sandbox
    guard_link(promoted, production_link=True)


def test_only_a_literal_true_puts_a_tenant_in_the_sandbox() -> None:
    loose = TenantRegistry.from_json([{"customsCode": "3105960003", "name": "x", "roles": ["platform"],
                                       "dxpId": "DXPENT0000000003", "sandbox": "yes"}])
    assert not loose.get("3105960003").sandbox


def test_a_production_link_does_not_know_sandbox_tenants_and_the_simulator_knows_all() -> None:
    production = link_tenants(TENANTS, production_link=True)
    assert "3105960001" not in production and "3105960002" in production
    assert link_tenants(TENANTS, production_link=False) is TENANTS
