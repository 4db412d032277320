"""Per role, the documents an enterprise declares and queries in the console, and the entry forms.

Each role's menu lists the types its declaration service lets it send (the owning services' policies
decide who sends what: a 收款单 CEB403 comes from the e-commerce enterprise, a 运抵单 CEB507 and an entry
list CEB711 from the supervision-site operator) and the types it is a party to and may read. A form is
generated from the CEB field tables (``cbec.ceb.tables``, made from the official XSDs): every field of
the head (or flat node) and of a line, in XSD order, with its annotation as the hint, required where
the XSD requires it; the platform fills guid, appType, appTime and appStatus as its intake does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.ceb import tables
from cbec.ceb.spec import F, Node
from cbec.declaration import strategies
from cbec.declaration.doctypes import BY_CODE, EXPORT_BY_CODE, DocType
from cbec.declaration.strategies import PRESETS
from cbec.errors import CebError
from cbec.tenants import Role, Tenant, TenantRegistry

PLATFORM_OWNED = ("guid", "appType", "appTime", "appStatus")
MAX_LINES = 20  # lines a form offers (the import sheets take more)

# What each role declares through its forms (the owning services' sender roles) and what it queries.
DECLARES: dict[Role, tuple[str, ...]] = {
    Role.PLATFORM: ("CEB311", "CEB303", "CEB403"),
    Role.ECOMMERCE: ("CEB311", "CEB303", "CEB403"),
    Role.PAYMENT: ("CEB411",),
    Role.LOGISTICS: ("CEB511", "CEB513", "CEB505", "CEB509"),
    Role.DECLARANT: ("CEB621", "CEB623", "CEB625", "CEB603", "CEB605", "CEB213"),
    Role.SITE_OPERATOR: ("CEB711", "CEB507", "CEB215"),
}
QUERIES: dict[Role, tuple[str, ...]] = {
    Role.PLATFORM: ("CEB311", "CEB621", "CEB303", "CEB403", "CEB603"),
    Role.ECOMMERCE: ("CEB311", "CEB303", "CEB403"),
    Role.PAYMENT: ("CEB411", "CEB403"),
    Role.LOGISTICS: ("CEB511", "CEB513", "CEB711", "CEB505", "CEB507", "CEB509", "CEB607"),
    Role.DECLARANT: ("CEB621", "CEB623", "CEB625", "CEB603", "CEB605", "CEB213", "CEB607", "CEB701"),
    Role.SITE_OPERATOR: ("CEB711", "CEB507", "CEB215"),
}

# The head fields a form fills with the enterprise's own code and name (the code the service checks).
OWN_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "CEB311": (("ebpCode", "ebpName"), ("ebcCode", "ebcName")),
    "CEB303": (("ebpCode", "ebpName"), ("ebcCode", "ebcName")),
    "CEB403": (("ebcCode", "ebcName"),),
    "CEB411": (("payCode", "payName"),),
    "CEB511": (("logisticsCode", "logisticsName"),),
    "CEB513": (("logisticsCode", "logisticsName"),),
    "CEB505": (("logisticsCode", "logisticsName"),),
    "CEB509": (("logisticsCode", "logisticsName"),),
    "CEB621": (("agentCode", "agentName"),),
    "CEB623": (("agentCode", "agentName"),),
    "CEB625": (("agentCode", "agentName"),),
    "CEB603": (("agentCode", "agentName"),),
    "CEB605": (("agentCode", "agentName"),),
    "CEB213": (("agentCode", "agentName"),),
    "CEB711": (("operatorCode", "operatorName"),),
    "CEB507": (("operatorCode", "operatorName"),),
    "CEB215": (("operatorCode", "operatorName"),),
}
# Command fields beside the document (cbec.contracts.commands.DeclareDocument).
ENVELOPE: dict[str, tuple[str, ...]] = {
    "CEB511": ("ebpCode",),
    "CEB513": ("ebpCode",),
    "CEB505": ("orderNo", "ebcCode", "strategy"),
    "CEB303": ("strategy",),
    "CEB403": ("strategy",),
    "CEB603": ("strategy",),
}
REQUIRED_ENVELOPE = {("CEB511", "ebpCode"), ("CEB505", "orderNo")}
# The head fields a strategy fills, as the owning services' policies name them (``strategy_fields``).
STRATEGY_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "CEB303": (("orderType", "order_type"),),
    "CEB603": (("tradeMode", "trade_mode"),),
}


def _member(roles: frozenset[Role], table: dict[Role, tuple[str, ...]]) -> list[str]:
    out: list[str] = []
    for role in Role:
        if role in roles:
            out += [code for code in table.get(role, ()) if code in BY_CODE and code not in out]
    return out


def declarable(roles: frozenset[Role]) -> list[str]:
    """The types an enterprise with ``roles`` declares in the console, in menu order."""
    return _member(roles, DECLARES)


def queryable(roles: frozenset[Role]) -> list[str]:
    """The types it searches (those it declares and those it is a party to)."""
    return _member(roles, QUERIES)


@dataclass(frozen=True)
class Field:
    name: str  # the form field: "<node>.<field>" or "<lines>.<n>.<field>"
    element: str  # the CEB element name
    hint: str  # the XSD annotation (中文)
    required: bool
    max_len: int | None
    decimals: int | None
    value: str = ""


@dataclass(frozen=True)
class Form:
    doc_type: str
    title: str  # the XSD annotation of the node
    head: list[Field]
    lines: list[list[Field]]
    lines_node: str | None
    envelope: dict[str, str]  # command field -> value
    strategies: tuple[str, ...]


def _schema_nodes(doc_type: DocType) -> dict[str, Node]:
    return (tables.EXPORT if doc_type.code in EXPORT_BY_CODE else tables.IMPORT).nodes


def _fields(node: Node, prefix: str, values: dict[str, Any]) -> list[Field]:
    out = []
    for item in node.items:
        if not isinstance(item, F) or item.name in PLATFORM_OWNED or item.kind == "any":
            continue
        value = values.get(item.name, "")
        out.append(Field(f"{prefix}.{item.name}", item.name, item.desc, item.min_occurs > 0, item.max_len,
                         item.fraction_digits if item.kind == "decimal" else None,
                         str(value) if isinstance(value, (str, int, float)) else ""))
    return out


def part_of(doc_type: DocType) -> str:
    """The form prefix of the head fields: the head node, or the flat node."""
    return doc_type.head or doc_type.node


def defaults(doc_type: DocType, tenant: Tenant) -> dict[str, str]:
    """The head values a new form starts with: the enterprise's own code and name, the export flag."""
    out: dict[str, str] = {}
    for code, name in OWN_FIELDS.get(doc_type.code, ()):
        out[code], out[name] = tenant.customs_code, tenant.name
    return out


def build_form(doc_type: DocType, document: dict[str, Any], envelope: dict[str, str], line_count: int) -> Form:
    """The form of ``doc_type`` holding ``document`` (its head values and lines; empty lines up to
    ``line_count``)."""
    nodes = _schema_nodes(doc_type)
    part = part_of(doc_type)
    head_values = document.get(doc_type.head, {}) if doc_type.head else document
    head = _fields(nodes[part], part, head_values if isinstance(head_values, dict) else {})
    lines: list[list[Field]] = []
    if doc_type.lines and doc_type.lines in nodes:
        given = document.get(doc_type.lines) or []
        given = [x for x in given if isinstance(x, dict)] if isinstance(given, list) else []
        count = max(1, min(MAX_LINES, max(line_count, len(given))))
        for n in range(count):
            lines.append(_fields(nodes[doc_type.lines], f"{doc_type.lines}.{n}", given[n] if n < len(given) else {}))
    wanted = ENVELOPE.get(doc_type.code, ())
    return Form(doc_type.code, nodes[part].desc or doc_type.node, head, lines, doc_type.lines,
                {name: envelope.get(name, "") for name in wanted},
                tuple(PRESETS) if "strategy" in wanted else ())


def document_of(doc_type: DocType, form: dict[str, Any]) -> dict[str, Any]:
    """``<node>.field`` and ``<lines>.n.field`` entries back into a document; empty values and empty
    lines are left out (the XSD's optional fields), entries of other names are ignored."""
    part = part_of(doc_type)
    head: dict[str, str] = {}
    lines: dict[int, dict[str, str]] = {}
    for name, raw in form.items():
        value = str(raw).strip()[:1000]
        parts = str(name).split(".")
        if len(parts) == 2 and parts[0] == part and parts[1] not in PLATFORM_OWNED and value:
            head[parts[1]] = value
        elif len(parts) == 3 and parts[0] == doc_type.lines and parts[1].isdigit() and value \
                and int(parts[1]) < MAX_LINES * 5:
            lines.setdefault(int(parts[1]), {})[parts[2]] = value
    document: dict[str, Any] = {doc_type.head: head} if doc_type.head else dict(head)
    if doc_type.lines:
        document[doc_type.lines] = [lines[i] for i in sorted(lines)]
    return document


def envelope_of(doc_type: DocType, form: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name in ENVELOPE.get(doc_type.code, ()):
        value = str(form.get(f"cmd.{name}", "")).strip()[:100]
        if value and (name != "strategy" or value in PRESETS):
            out[name] = value
    return out


def envelope_findings(doc_type: DocType, envelope: dict[str, str]) -> list[dict[str, str]]:
    """What the command itself lacks (the service would refuse it: named here before it is sent)."""
    return [{"code": "CBEC-0002", "path": name, "rule": "contract", "message": f"{name} is required",
             "field": f"cmd.{name}"}
            for name in ENVELOPE.get(doc_type.code, ()) if (doc_type.code, name) in REQUIRED_ENVELOPE
            and not envelope.get(name)]


def field_of(doc_type: DocType, path: str) -> str:
    """The form field a CEB core finding names: ``Order[1].OrderList[2].qty`` -> ``OrderList.1.qty``,
    ``InvtCancel[1].reason`` -> ``InvtCancel.reason`` ('' when it names none)."""
    steps = [s.partition("[") for s in path.split(".")]
    names = [(name, index.rstrip("]")) for name, _, index in steps]
    if not names:
        return ""
    if doc_type.head is None and len(names) == 2 and names[0][0] == doc_type.node:
        return f"{doc_type.node}.{names[1][0]}"
    if len(names) >= 3 and names[1][0] == doc_type.head:
        return f"{doc_type.head}.{names[2][0]}"
    if len(names) >= 3 and names[1][0] == doc_type.lines and names[1][1].isdigit():
        return f"{doc_type.lines}.{int(names[1][1]) - 1}.{names[2][0]}"
    return ""


# The documents that follow one on its clearance page (a cancel or a return of a list …).
FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    "CEB621": ("CEB623", "CEB625"),
    "CEB603": ("CEB605", "CEB213"),
}


def copied(source: DocType, document: dict[str, Any]) -> dict[str, str]:
    """The head values of ``document`` a follow-up form starts with (a cancel from its list: copNo,
    orderNo, the parties …); the form keeps those of its own fields."""
    head = document.get(source.head) if source.head else document
    if not isinstance(head, dict):
        return {}
    return {k: v for k, v in head.items() if isinstance(v, str) and k not in PLATFORM_OWNED}


def with_strategy(doc_type: DocType, document: dict[str, Any], envelope: dict[str, str],
                  tenants: TenantRegistry, sender: str) -> tuple[dict[str, Any], list[CebError]]:
    """The document as the intake checks it: the command's strategy (else the enterprise's default)
    applied by the same function the services apply it with (``cbec.declaration.strategies``)."""
    if doc_type.code not in STRATEGY_FIELDS and (doc_type.code, "strategy") not in {
            (c, n) for c, names in ENVELOPE.items() for n in names}:
        return document, []
    chosen, errors = strategies.named(envelope.get("strategy", ""), tenants, sender)
    if errors:
        return document, errors
    applied = strategies.apply(chosen, STRATEGY_FIELDS.get(doc_type.code, ()), doc_type.code == "CEB603",
                               doc_type.head, document, part_of(doc_type))
    return applied.document, list(applied.errors)
