"""The payment (CEB411) and the export collection (CEB403 收款单), each released at once like the order.

The saga pairs a payment with its import order. A collection is the e-commerce enterprise's record
that the buyer paid it for an export order: it comes from the seller (or its platform), belongs to the
order's clearance ``E:<ebcCode>:<orderNo>``, and takes its codes from customs' export range
-401001…-405000 (which holds the import payment's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.declaration.doctypes import COLLECTION, PAYMENT
from cbec.declaration.policy import DocumentPolicy, ExportOrderPolicy
from cbec.declaration.tenancy import differs
from cbec.errors import CebError
from cbec.tenants import Role

SERVICE = "payment"


@dataclass(frozen=True)
class PaymentPolicy(DocumentPolicy):
    def distinct_parties(self, head: dict[str, Any], ebp_code: str) -> list[CebError]:
        """9610: the payment's payCode is not its ebpCode."""
        return differs(self.where, head, "payCode", "ebpCode")


PAYMENT_POLICY = PaymentPolicy(
    PAYMENT,
    sender_roles=frozenset({Role.PAYMENT}),
    sender_code_fields=("payCode",),
    in_flight_code="-401007",
    locked_code="-401008",
    deletable=True,
)

COLLECTION_POLICY = ExportOrderPolicy(
    COLLECTION,
    sender_roles=frozenset({Role.ECOMMERCE, Role.PLATFORM}),
    sender_code_fields=("ebcCode", "ebpCode"),
    in_flight_code="-401007",  # the same document exists
    locked_code="-401008",  # the list is declared
    stale_code="-401012",  # older than the stored version
    deletable=True,
    overseas_platform=True,
    takes_strategy=True,
)

POLICIES: tuple[DocumentPolicy, ...] = (PAYMENT_POLICY, COLLECTION_POLICY)
DOC_TYPES = [p.doc_type for p in POLICIES]
