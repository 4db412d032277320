"""The demo tenants: the five fictitious enterprises of :mod:`cbec_testkit.samples.parties`."""

from __future__ import annotations

from typing import Any

from cbec.tenants import TenantRegistry

from cbec_testkit.samples import parties as p

_ROLES = [
    (p.PLATFORM, p.PLATFORM_NAME, ["platform", "ecommerce"]),
    (p.PAYMENT_COMPANY, p.PAYMENT_NAME, ["payment"]),
    (p.LOGISTICS_COMPANY, p.LOGISTICS_NAME, ["logistics"]),
    (p.DECLARANT, p.DECLARANT_NAME, ["declarant"]),
    (p.SITE_OPERATOR, p.SITE_OPERATOR_NAME, ["site_operator"]),
]

DEMO_TENANTS: list[dict[str, Any]] = [
    {"customsCode": code, "name": name, "roles": roles, "dxpId": p.dxp_id(code), "uscc": p.uscc(code)}
    for code, name, roles in _ROLES
]


def demo_registry() -> TenantRegistry:
    """The built-in tenants the embedded demo, the local stack and the tests declare with."""
    return TenantRegistry.from_json(DEMO_TENANTS)
