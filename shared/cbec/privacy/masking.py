"""Which party sees which personal data of a document, and how a hidden value is shown.

Personal data in the CEB documents falls in three groups: the buyer (订购人), the payer (支付人)
and the consignee (收货人). The declaring side (sender, platform, e-commerce enterprise, its agent)
sees everything; a payment company sees the payer of its own payment; a logistics company sees the
consignee it delivers to; a supervision-site operator and anyone else see none of it.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

BUYER_FIELDS = frozenset({"buyerName", "buyerIdNumber", "buyerTelephone", "buyerRegNo"})
PAYER_FIELDS = frozenset({"payerName", "payerIdNumber", "payerNumber", "telephone"})
CONSIGNEE_FIELDS = frozenset({"consignee", "consigneeTelephone", "consigneeAddress"})
PII_FIELDS = BUYER_FIELDS | PAYER_FIELDS | CONSIGNEE_FIELDS

# The codes in a document head that make an enterprise a party to it, by the role they give.
PARTY_FIELDS: dict[str, str] = {
    "ebpCode": "declarer",
    "ebcCode": "declarer",
    "agentCode": "declarer",
    "payCode": "payment",
    "logisticsCode": "logistics",
    "operatorCode": "site_operator",
}

VISIBLE: dict[str, frozenset[str]] = {
    "declarer": PII_FIELDS,
    "payment": PAYER_FIELDS,
    "logistics": CONSIGNEE_FIELDS,
    "site_operator": frozenset(),
}


def mask_value(value: str) -> str:
    """Keep the first and last character of long values, hide the rest (``王**``, ``3***************4``)."""
    if len(value) <= 1:
        return "*" * len(value)
    if len(value) <= 3:
        return value[0] + "*" * (len(value) - 1)
    return value[0] + "*" * (len(value) - 2) + value[-1]


def heads(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document itself (flat nodes) and each nested object (heads), where party codes live."""
    return [document, *(v for v in document.values() if isinstance(v, dict))]


def party_codes(document: dict[str, Any]) -> dict[str, set[str]]:
    """Customs code → the roles it holds in this document (from ebpCode, payCode … in its heads)."""
    out: dict[str, set[str]] = {}
    for node in heads(document):
        for name, role in PARTY_FIELDS.items():
            code = node.get(name)
            if isinstance(code, str) and code:
                out.setdefault(code, set()).add(role)
    return out


def viewer_roles(tenant: str, document: dict[str, Any] | None, sender: str) -> frozenset[str]:
    """The roles ``tenant`` holds towards a document; empty means it is no party and sees nothing."""
    roles = set(party_codes(document or {}).get(tenant, set()))
    if tenant == sender:
        roles.add("declarer")
    return frozenset(roles)


def _mask(node: Any, hidden: frozenset[str]) -> Any:
    if isinstance(node, dict):
        return {
            k: (mask_value(v) if k in hidden and isinstance(v, str) else _mask(v, hidden))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_mask(v, hidden) for v in node]
    return copy.copy(node)


def mask_document(document: dict[str, Any], roles: Collection[str]) -> dict[str, Any]:
    """A copy of ``document`` with the personal data the viewer's ``roles`` need not see masked."""
    visible: frozenset[str] = frozenset().union(*(VISIBLE.get(r, frozenset()) for r in roles))
    result: dict[str, Any] = _mask(document, PII_FIELDS - visible)
    return result
