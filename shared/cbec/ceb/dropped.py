"""How a parse finding shows what it could not place: the value (one line, truncated, masked where it
may be personal data) and a hint at the declared name a misspelt element probably meant."""

from __future__ import annotations

from functools import cache

from lxml import etree

from cbec.ceb.compiled import NS, CNode

SHOWN_CHARS = 40
"""Longer values are cut here: a finding names the value, it does not reproduce the document."""
SHOWN_CHILDREN = 5


@cache
def _plain_fields() -> frozenset[str]:
    """Lowercased names of the declared fields that hold no personal data (``gmodel``, ``itemname`` …)."""
    from cbec.ceb.tables import EXPORT, IMPORT
    from cbec.privacy.masking import PII_FIELDS

    personal = {name.lower() for name in PII_FIELDS}
    names = {it.name.lower() for schema in (IMPORT, EXPORT) for node in schema.nodes.values() for it in node.items}
    return frozenset(names - personal)


def shown(name: str, value: str) -> str:
    """``value`` of the element or attribute ``name`` as a finding may print it (quoted, one line).

    Only a declared field known to hold no personal data is shown in clear (ID numbers and phone
    numbers in it still masked); any other name, a misspelt ``BuyerName`` as much as an unknown
    ``receiverMobile``, may hold personal data and is masked to its first and last character.
    """
    from cbec.privacy.log_filter import mask_text
    from cbec.privacy.masking import mask_value

    text = " ".join(value.split())  # one line: a value must not forge a finding line of its own
    text = mask_text(text) if name.lower() in _plain_fields() else mask_value(text)
    if len(text) > SHOWN_CHARS:
        text = text[:SHOWN_CHARS] + "…"
    return repr(text)


def _short(name: str) -> str:
    return name if len(name) <= SHOWN_CHARS else name[:SHOWN_CHARS] + "…"


def described(el: etree._Element) -> str:
    """What ``el`` held, for a finding saying it was not kept."""
    children = [etree.QName(c).localname for c in el if isinstance(c.tag, str)]
    if children:
        names = ", ".join(_short(c) for c in children[:SHOWN_CHILDREN])
        more = ", …" if len(children) > SHOWN_CHILDREN else ""
        return f"its {len(children)} child elements ({names}{more}) were not kept"
    return f"its value {shown(etree.QName(el).localname, el.text or '')} was not kept"


def hint(el: etree._Element, node: CNode) -> str:
    """`` (did you mean gmodel?)`` for a name declared in ``node`` under another case or namespace."""
    qn = etree.QName(el)
    local = qn.localname
    if local in node.by_name and qn.namespace != NS:
        where = f"namespace {qn.namespace}" if qn.namespace else "no namespace"
        return f" (it is in {where}; {node.name} declares {local} in {NS})"
    real = node.by_lower.get(local.lower())
    return f" (did you mean {real}?)" if real is not None else ""
