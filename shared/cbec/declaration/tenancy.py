"""Who may declare what: the sender's role, the codes it may use, and the distinct-party rule helper.

Each owning service's policy names the roles and sender code fields of its types and which of a
document's parties must differ (:meth:`DocumentPolicy.distinct_parties`, built with
:func:`differs`). Every check reads only the document being declared (and, for a waybill, the
platform code of the command envelope), so it runs at intake without asking another service.
Rules that need two documents of one clearance are the saga's, which sees every document of it.
"""

from __future__ import annotations

from typing import Any

from cbec.declaration.policy import DocumentPolicy
from cbec.errors import CebError
from cbec.tenants import Tenant, TenantRegistry

UNKNOWN_SENDER = "-10102"
WRONG_ROLE = "-10101"
NOT_OWN_CODE = "CBEC-1003"
SAME_PARTY = "CBEC-1004"


def check_sender(registry: TenantRegistry, sender: str, policy: DocumentPolicy) -> list[CebError]:
    """The sender is registered and holds a role allowed to send this document type."""
    if sender not in registry:
        return [CebError(UNKNOWN_SENDER, "sender", "tenancy", f"sender {sender!r} is not a registered enterprise")]
    allowed = policy.sender_roles
    if not (registry.get(sender).roles & allowed):
        return [
            CebError(
                WRONG_ROLE,
                "sender",
                "tenancy",
                f"{policy.code} must come from a {' or '.join(sorted(allowed))} enterprise",
            )
        ]
    return []


def check_codes(tenant: Tenant, policy: DocumentPolicy, document: dict[str, Any]) -> list[CebError]:
    """The document names the sender (or an enterprise that delegated to it) in its sender field."""
    fields = policy.sender_code_fields
    head = policy.head(document)
    if not fields or any(tenant.may_act_for(str(head.get(f, ""))) for f in fields):
        return []
    named = " or ".join(f"{f} {head.get(f, '')!r}" for f in fields)
    return [
        CebError(
            NOT_OWN_CODE,
            f"{policy.where}.{fields[0]}",
            "tenancy: own code",
            f"{named} is neither the sender {tenant.customs_code} nor delegated to it",
        )
    ]


def check_distinct_parties(policy: DocumentPolicy, document: dict[str, Any], ebp_code: str = "") -> list[CebError]:
    """Distinct enterprises per role, as far as this one document shows them (the policy says which)."""
    return policy.distinct_parties(policy.head(document), ebp_code)


def differs(where: str, head: dict[str, Any], name: str, *others: str) -> list[CebError]:
    """``head[name]`` is none of ``head[o]`` for ``o`` in ``others``: each role a different enterprise."""
    value = str(head.get(name, ""))
    clash = [o for o in others if value and str(head.get(o, "")) == value]
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


def same_party(where: str, name: str, value: str, message: str) -> list[CebError]:
    """A distinct-party finding the policy words itself (e.g. against the command's ``ebpCode``)."""
    return [CebError(SAME_PARTY, f"{where}.{name}", "tenancy: distinct parties", message)]
