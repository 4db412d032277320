"""The payment (CEB411): released at once, like the order; the saga pairs it with its order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.declaration.doctypes import PAYMENT
from cbec.declaration.policy import DocumentPolicy
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

POLICIES: tuple[DocumentPolicy, ...] = (PAYMENT_POLICY,)
DOC_TYPES = [p.doc_type for p in POLICIES]
