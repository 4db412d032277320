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


OVERSEAS_WAREHOUSE_FILING = "HWC3105960001"  # the demo platform's (fictitious) 海外仓备案, for 9810 export


def export_demo_registry() -> TenantRegistry:
    """The demo tenants, the platform (the export demo's seller) with an overseas-warehouse filing: 9810
    export needs one in the seller's record (the plain demo tenants have none, so 9810 is refused there)."""
    return TenantRegistry.from_json([{**t, "overseasWarehouseFiling": OVERSEAS_WAREHOUSE_FILING}
                                     if t["customsCode"] == p.PLATFORM else t for t in DEMO_TENANTS])
