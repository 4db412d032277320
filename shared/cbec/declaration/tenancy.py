"""Who may declare what: the sender's role, the codes it may use, and the distinct-party rules.

Every check here reads only the document being declared (and, for a waybill, the platform code of
the command envelope), so it runs at intake in the owning service without asking another service.
Rules that need two documents of one clearance (say, the waybill's carrier against the payment's
payCode) are the saga's, which sees every document of the clearance.
"""

from __future__ import annotations

from typing import Any

from cbec.declaration.doctypes import DocType
from cbec.errors import CebError
from cbec.tenants import Role, Tenant, TenantRegistry

# Which roles may send each document type (ceb-formats §2, sender table).
SENDER_ROLES: dict[str, frozenset[Role]] = {
    "CEB311": frozenset({Role.PLATFORM, Role.ECOMMERCE}),
    "CEB411": frozenset({Role.PAYMENT}),
    "CEB511": frozenset({Role.LOGISTICS}),
    "CEB513": frozenset({Role.LOGISTICS}),
    "CEB621": frozenset({Role.ECOMMERCE, Role.DECLARANT}),
    "CEB623": frozenset({Role.ECOMMERCE, Role.DECLARANT}),
    "CEB625": frozenset({Role.ECOMMERCE, Role.DECLARANT}),
    "CEB711": frozenset({Role.SITE_OPERATOR}),
}

# The document's codes that name its sender; one of them must be the sender's own or delegated to it.
SENDER_CODE_FIELDS: dict[str, tuple[str, ...]] = {
    "CEB311": ("ebcCode", "ebpCode"),
    "CEB411": ("payCode",),
    "CEB511": ("logisticsCode",),
    "CEB513": ("logisticsCode",),
    "CEB621": ("agentCode",),
    "CEB623": ("agentCode",),
    "CEB625": ("agentCode",),
    "CEB711": ("operatorCode",),
}

UNKNOWN_SENDER = "-10102"
WRONG_ROLE = "-10101"
NOT_OWN_CODE = "CBEC-1003"
SAME_PARTY = "CBEC-1004"


def check_sender(registry: TenantRegistry, sender: str, doc_type: DocType) -> list[CebError]:
    """The sender is registered and holds a role allowed to send this document type."""
    if sender not in registry:
        return [CebError(UNKNOWN_SENDER, "sender", "tenancy", f"sender {sender!r} is not a registered enterprise")]
    allowed = SENDER_ROLES.get(doc_type.code, frozenset())
    if not (registry.get(sender).roles & allowed):
        return [
            CebError(
                WRONG_ROLE,
                "sender",
                "tenancy",
                f"{doc_type.code} must come from a {' or '.join(sorted(allowed))} enterprise",
            )
        ]
    return []


def check_codes(tenant: Tenant, doc_type: DocType, document: dict[str, Any]) -> list[CebError]:
    """The document names the sender (or an enterprise that delegated to it) in its sender field."""
    fields = SENDER_CODE_FIELDS.get(doc_type.code, ())
    head = _head(doc_type, document)
    if not fields or any(tenant.may_act_for(str(head.get(f, ""))) for f in fields):
        return []
    where = doc_type.head or doc_type.node
    named = " or ".join(f"{f} {head.get(f, '')!r}" for f in fields)
    return [
        CebError(
            NOT_OWN_CODE,
            f"{where}.{fields[0]}",
            "tenancy: own code",
            f"{named} is neither the sender {tenant.customs_code} nor delegated to it",
        )
    ]


def check_distinct_parties(doc_type: DocType, document: dict[str, Any], ebp_code: str = "") -> list[CebError]:
    """Distinct enterprises per role, as far as this one document shows them.

    9610: order (platform/e-commerce), payment and waybill come from three different enterprises, so
    - the order's payCode is neither its ebpCode nor its ebcCode;
    - the payment's payCode is not its ebpCode;
    - the waybill's logisticsCode is not the platform of the clearance (``ebpCode`` of the envelope);
    - the list's logisticsCode is neither its ebpCode nor its ebcCode.
    1210: the list comes from a fourth enterprise (the bonded warehouse as declarant), so its agentCode
    is none of ebcCode, ebpCode, logisticsCode.
    """
    head = _head(doc_type, document)
    where = doc_type.head or doc_type.node

    def differs(name: str, *others: str) -> list[CebError]:
        value = str(head.get(name, ""))
        taken = {o: str(head.get(o, "")) for o in others}
        clash = [o for o, v in taken.items() if value and v == value]
        if not clash:
            return []
        return [
            CebError(
                SAME_PARTY,
                f"{where}.{name}",
                "tenancy: distinct parties",
                f"{name} {value} is also the {'/'.join(clash)}; each role must be a different enterprise",
            )
        ]

    code = doc_type.code
    if code == "CEB311":
        return differs("payCode", "ebpCode", "ebcCode")
    if code == "CEB411":
        return differs("payCode", "ebpCode")
    if code == "CEB511":
        value = str(head.get("logisticsCode", ""))
        if ebp_code and value == ebp_code:
            return [
                CebError(
                    SAME_PARTY,
                    f"{where}.logisticsCode",
                    "tenancy: distinct parties",
                    f"logisticsCode {value} is the platform of the clearance; the carrier must be another enterprise",
                )
            ]
        return []
    if code == "CEB621":
        if head.get("tradeMode") == "1210":
            return differs("agentCode", "ebcCode", "ebpCode", "logisticsCode")
        return differs("logisticsCode", "ebpCode", "ebcCode")
    return []


def _head(doc_type: DocType, document: dict[str, Any]) -> dict[str, Any]:
    head = document.get(doc_type.head) if doc_type.head else document
    return head if isinstance(head, dict) else {}
