"""The order (CEB311): the one document type this service owns.

An order comes from the platform or the e-commerce enterprise, names one of them as its sender,
and is released at intake (it waits for nothing). Its payCode is another enterprise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.declaration.doctypes import ORDER
from cbec.declaration.policy import DocumentPolicy
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

POLICIES: tuple[DocumentPolicy, ...] = (ORDER_POLICY,)
DOC_TYPES = [p.doc_type for p in POLICIES]
