"""The orders: the import order (CEB311) and the export order (CEB303).

An order comes from the platform or the e-commerce enterprise, names one of them as its sender,
and is released at intake (it waits for nothing). An import order's payCode is another enterprise.

An export order (orderType E B2C, B B2B, W overseas-warehouse booking) belongs to the clearance
``E:<ebcCode>:<orderNo>``: the seller names it, because an overseas platform may declare ebpCode ``无``.
Its codes come from customs' export order range (-301001…-305000), which holds the import order's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.declaration.doctypes import EXPORT_ORDER, ORDER
from cbec.declaration.policy import DocumentPolicy, ExportOrderPolicy
from cbec.declaration.tenancy import differs
from cbec.errors import CebError
from cbec.tenants import Role

SERVICE = "order"


@dataclass(frozen=True)
class OrderPolicy(DocumentPolicy):
    def distinct_parties(self, head: dict[str, Any], ebp_code: str) -> list[CebError]:
        """9610: the order's payCode is neither its ebpCode nor its ebcCode."""
        return differs(self.where, head, "payCode", "ebpCode", "ebcCode")


ORDER_POLICY = OrderPolicy(
    ORDER,
    sender_roles=frozenset({Role.PLATFORM, Role.ECOMMERCE}),
    sender_code_fields=("ebcCode", "ebpCode"),
    in_flight_code="-301010",
    locked_code="-301011",
    deletable=True,
)

EXPORT_ORDER_POLICY = ExportOrderPolicy(
    EXPORT_ORDER,
    sender_roles=frozenset({Role.PLATFORM, Role.ECOMMERCE}),
    sender_code_fields=("ebcCode", "ebpCode"),
    in_flight_code="-301010",  # the same order number exists
    locked_code="-301011",  # the list is declared
    stale_code="-301014",  # older than the stored version
    deletable=True,
    overseas_platform=True,
    takes_strategy=True,
    strategy_fields=(("orderType", "order_type"),),  # a strategy fills E, B or W
    max_lines=100,  # XSD-E22
)

POLICIES: tuple[DocumentPolicy, ...] = (ORDER_POLICY, EXPORT_ORDER_POLICY)
DOC_TYPES = [p.doc_type for p in POLICIES]
