"""A declaration service's OpenAPI document, self-contained.

The published JSON Schemas (``contracts/schemas``) refer to each other by relative ``$ref``. A
client generator or a fuzzer reading ``/openapi.json`` cannot fetch them, so the document carries
them in ``components/schemas`` (every ``$ref`` rewritten to point there), and the declare route's
body names exactly the document types this service takes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin

from cbec.contracts.schema_check import SCHEMA_DIR, load_schema, schema_files

BASE = "https://schemas.cbec.example/"


def component_name(relative: str) -> str:
    """``commands/declare-CEB311.json`` → ``commands.declare-CEB311``."""
    return relative.removesuffix(".json").replace("/", ".")


def _rewrite(node: Any, base: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("$id", "$schema"):
                continue
            if key == "$ref" and isinstance(value, str):
                target, _, fragment = urljoin(base, value).partition("#")
                pointer = f"#/components/schemas/{component_name(target.removeprefix(BASE))}"
                out[key] = pointer + fragment
            else:
                out[key] = _rewrite(value, base)
        return out
    if isinstance(node, list):
        return [_rewrite(v, base) for v in node]
    return node


def components() -> dict[str, Any]:
    """Every published schema, under its component name, its references pointing into the document."""
    out: dict[str, Any] = {}
    for path in schema_files():
        relative = path.relative_to(SCHEMA_DIR).as_posix()
        schema = load_schema(relative)
        out[component_name(relative)] = _rewrite(copy.deepcopy(schema), schema.get("$id", BASE + relative))
    return out


def declare_body(doc_types: Iterable[str]) -> dict[str, Any]:
    """The declare route's body: one DeclareDocument of a type the service takes (docType required)."""
    return {"anyOf": [
        {"allOf": [{"$ref": f"#/components/schemas/commands.declare-{code}"}, {"required": ["docType"]}]}
        for code in doc_types
    ]}


def self_contained(spec: dict[str, Any], doc_types: Iterable[str]) -> dict[str, Any]:
    """``spec`` (FastAPI's) with the published schemas inlined and the declare body made precise."""
    spec = copy.deepcopy(spec)
    spec.setdefault("components", {}).setdefault("schemas", {}).update(components())
    body = spec["paths"]["/v1/documents"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = declare_body(doc_types)
    return spec
