"""Build the JSON Schemas of the declared documents from the CEB field tables (``cbec.ceb.tables``).

``scripts/gen_contract_schemas.py`` writes them under ``contracts/schemas/``; a contract test checks
that the committed files equal what this module builds, so the schemas follow the XSD tables.
"""

from __future__ import annotations

from typing import Any

from cbec.ceb.spec import Child, F, Node, Schema, Sig
from cbec.ceb.tables import EXPORT, IMPORT
from cbec.contracts.commands import INTAKE_TOPICS
from cbec.declaration.doctypes import BY_CODE, EXPORT_BY_CODE
from cbec.declaration.strategies import PRESETS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_URI = "https://schemas.cbec.example/"
ENVELOPE_ITEMS = frozenset({"BaseTransfer", "BaseSubscribe", "ExtendMessage"})
# Head fields the platform fills when the sender leaves them out (DeclarationApp._complete).
PLATFORM_FILLED = frozenset({"guid", "appType", "appTime", "appStatus"})
DOC_TYPES: tuple[str, ...] = tuple(INTAKE_TOPICS.values())
CUSTOMS_CODE = "^[0-9A-Z]{10}$"


def decimal_pattern(total: int, fraction: int) -> str:
    """xs:decimal with totalDigits/fractionDigits as a regular expression over its text."""
    alternatives = [rf"\d{{1,{total}}}"]
    alternatives += [rf"\d{{1,{total - k}}}\.\d{{{k}}}" for k in range(1, fraction + 1)]
    return rf"^-?(?:{'|'.join(alternatives)})$"


def field_schema(spec: F) -> dict[str, Any]:
    """One simple-content element: always a JSON string (the CEB XML text)."""
    schema: dict[str, Any] = {"type": "string", "description": spec.desc}
    if spec.kind == "decimal":
        schema["pattern"] = decimal_pattern(spec.total_digits or 19, spec.fraction_digits or 0)
    elif spec.kind == "int":
        schema["pattern"] = rf"^-?\d{{1,{spec.total_digits}}}$" if spec.total_digits else r"^-?\d+$"
    if spec.min_len is not None:
        schema["minLength"] = spec.min_len
    if spec.max_len is not None:
        schema["maxLength"] = spec.max_len
    if spec.fixed is not None:
        schema["const"] = spec.fixed
    if spec.default is not None:
        schema["default"] = spec.default
    if spec.max_occurs != 1:
        array: dict[str, Any] = {"type": "array", "items": schema, "minItems": spec.min_occurs}
        if spec.max_occurs > 0:
            array["maxItems"] = spec.max_occurs
        return array
    return schema


def _def_name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def node_schema(
    schema: Schema, node: Node, defs: dict[str, Any], *, filled: frozenset[str]
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for item in node.items:
        if isinstance(item, Sig):
            continue
        if isinstance(item, Child):
            child = schema.nodes[item.node]
            name = _def_name(item.node)
            if name not in defs:
                defs[name] = {}  # reserve: nodes are trees, but keep recursion finite regardless
                defs[name] = node_schema(schema, child, defs, filled=frozenset())
            ref = {"$ref": f"#/$defs/{name}"}
            if item.max_occurs == 1:
                properties[item.name] = ref
            else:
                array: dict[str, Any] = {"type": "array", "items": ref, "minItems": item.min_occurs}
                if item.max_occurs > 0:
                    array["maxItems"] = item.max_occurs
                properties[item.name] = array
        else:
            properties[item.name] = field_schema(item)
        if item.min_occurs > 0 and item.name not in filled:
            required.append(item.name)
    return {
        "type": "object",
        "description": node.desc,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def tables_of(code: str) -> Schema:
    """The XSD field tables holding message ``code``: export (XSD-E22) or import (XSD-I22)."""
    return EXPORT if code in EXPORT_BY_CODE else IMPORT


def document_node(code: str) -> Node:
    """The business node a DeclareDocument of ``code`` carries (``Order``, ``InvtCancel`` …)."""
    tables = tables_of(code)
    root = tables.nodes[f"{code}Message"]
    docs = [i for i in root.items if isinstance(i, Child) and i.name not in ENVELOPE_ITEMS]
    assert len(docs) == 1, code
    return tables.nodes[docs[0].node]


def document_schema(code: str) -> dict[str, Any]:
    """The ``document`` of a DeclareDocument of type ``code``; platform-filled head fields are optional."""
    doc_type = BY_CODE[code]
    tables = tables_of(code)
    node = document_node(code)
    defs: dict[str, Any] = {}
    if doc_type.head is None:
        body = node_schema(tables, node, defs, filled=PLATFORM_FILLED)
    else:
        head_key = next(i.node for i in node.items if isinstance(i, Child) and i.name == doc_type.head)
        defs[_def_name(head_key)] = node_schema(tables, tables.nodes[head_key], defs, filled=PLATFORM_FILLED)
        body = node_schema(tables, node, defs, filled=frozenset())
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_URI}documents/{code}.json",
        "title": f"{code} {node.name} document",
        **body,
        "$defs": dict(sorted(defs.items())),
    }


# The order an export waybill's clearance is (E:<ebcCode>:<orderNo>): its Logistics node names none.
EXPORT_WAYBILL = "CEB505"
ENVELOPE_ORDER = {
    "orderNo": {
        "type": "string",
        "pattern": "^[0-9A-Za-z][0-9A-Za-z._-]{0,59}$",
        "description": "the export order of the waybill's clearance (E:<ebcCode>:<orderNo>)",
    },
    "ebcCode": {
        "type": "string",
        "pattern": "^[0-9A-Za-z]{1,18}$",
        "description": "the seller of the clearance when Logistics.ebcCode is left out",
    },
}


def command_schema(code: str) -> dict[str, Any]:
    """DeclareDocument for one document type, as sent on its intake topic or over HTTP."""
    topic = next(t for t, c in INTAKE_TOPICS.items() if c == code)
    envelope: dict[str, Any] = dict(ENVELOPE_ORDER) if code == EXPORT_WAYBILL else {}
    if code in EXPORT_BY_CODE:
        envelope["strategy"] = {
            "enum": list(PRESETS),
            "description": "the export strategy the document is declared under (fills tradeMode/orderType left "
            "out); without one the sender's tenant record names the default",
        }
    required = ["commandId", "sender", "document", *(["ebpCode"] if code == "CEB511" else []),
                *(["orderNo"] if code == EXPORT_WAYBILL else [])]
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_URI}commands/declare-{code}.json",
        "title": f"DeclareDocument ({code})",
        "description": f"Declare (or correct) one {code} document; sent on {topic} or POST /v1/documents. "
        "docType may be left out on the intake topic.",
        "type": "object",
        "properties": {
            "commandId": {"type": "string", "minLength": 1, "maxLength": 200},
            "sender": {
                "type": "string",
                "pattern": CUSTOMS_CODE,
                "description": "customs code of the sending enterprise (the caller's tenant)",
            },
            "docType": {"const": code},
            "ebpCode": {
                "type": "string",
                "pattern": "^[0-9A-Za-z]{1,18}$",
                "description": "platform of the clearance (ebpCode:orderNo) when the document "
                "does not name it; required for CEB511",
            },
            **envelope,
            "document": {"$ref": f"../documents/{code}.json"},
        },
        "required": required,
        "additionalProperties": False,
    }


def declare_any_schema() -> dict[str, Any]:
    """DeclareDocument of any type (the HTTP body): docType selects the document schema."""
    return {
        "$schema": DRAFT,
        "$id": f"{BASE_URI}commands/declare-document.json",
        "title": "DeclareDocument",
        "type": "object",
        "required": ["docType"],
        "properties": {"docType": {"enum": list(DOC_TYPES)}},
        "allOf": [
            {"if": {"properties": {"docType": {"const": code}}}, "then": {"$ref": f"declare-{code}.json"}}
            for code in DOC_TYPES
        ],
    }


def generated() -> dict[str, dict[str, Any]]:
    """Relative path under ``schemas/`` → schema, for every generated file."""
    out: dict[str, dict[str, Any]] = {}
    for code in DOC_TYPES:
        out[f"documents/{code}.json"] = document_schema(code)
        out[f"commands/declare-{code}.json"] = command_schema(code)
    out["commands/declare-document.json"] = declare_any_schema()
    return out
