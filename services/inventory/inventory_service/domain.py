"""Lists (CEB621), cancels (CEB623) and returns (CEB625).

Each is held at intake until the saga releases it: a list once its order, payment and waybill are
declared; a cancel or a return once the list's state allows it (the saga refuses them otherwise).
A list never changes once customs accepted it, nor does a cancel; a cancel is only ever new
(appType 1). The buyer's quota is this service's intake guard (see ``application.build``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.declaration.doctypes import CANCEL, INVENTORY, RETURN
from cbec.declaration.policy import DocumentPolicy
from cbec.declaration.tenancy import differs
from cbec.errors import CebError
from cbec.tenants import Role

SERVICE = "inventory"

_LIST_SENDERS = frozenset({Role.ECOMMERCE, Role.DECLARANT})


@dataclass(frozen=True)
class ListPolicy(DocumentPolicy):
    def distinct_parties(self, head: dict[str, Any], ebp_code: str) -> list[CebError]:
        """9610: the list's logisticsCode is neither its ebpCode nor its ebcCode. 1210: the list comes from
        a fourth enterprise (the bonded warehouse as declarant): its agentCode is none of the others."""
        if head.get("tradeMode") == "1210":
            return differs(self.where, head, "agentCode", "ebcCode", "ebpCode", "logisticsCode")
        return differs(self.where, head, "logisticsCode", "ebpCode", "ebcCode")


LIST_POLICY = ListPolicy(
    INVENTORY,
    sender_roles=_LIST_SENDERS,
    sender_code_fields=("agentCode",),
    in_flight_code="-621004",
    no_change_code="-621011",
    no_change_released_code="-621012",
    held_at_intake=True,
    too_many_lines_code="-621030",  # list data exceeds the limit
)
CANCEL_POLICY = DocumentPolicy(
    CANCEL,
    sender_roles=_LIST_SENDERS,
    sender_code_fields=("agentCode",),
    no_change_code="CBEC-2003",
    no_change_released_code="-621012",
    new_only=True,
    held_at_intake=True,
)
RETURN_POLICY = DocumentPolicy(
    RETURN,
    sender_roles=_LIST_SENDERS,
    sender_code_fields=("agentCode",),
    deletable=True,
    held_at_intake=True,
)

POLICIES: tuple[DocumentPolicy, ...] = (LIST_POLICY, CANCEL_POLICY, RETURN_POLICY)
DOC_TYPES = [p.doc_type for p in POLICIES]
