"""The official 2022-05 XSDs as a test oracle (not used by the product's own validation)."""

from __future__ import annotations

from functools import cache
from typing import Literal

from lxml import etree

from cbec.reference import xsd_dir

SchemaKind = Literal["import", "export", "dxp"]

_FILES: dict[str, str] = {"import": "ceb-import.xsd", "export": "ceb-export.xsd", "dxp": "dxp-transport.xsd"}


@cache
def official_schema(kind: SchemaKind) -> etree.XMLSchema:
    """The compiled official schema (``dxp`` is the transport XSD, which includes the terminal one)."""
    path = xsd_dir() / _FILES[kind]
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


def xsd_errors(xml: bytes, kind: SchemaKind) -> list[str]:
    """Schema errors of ``xml`` (``line N: message``); empty when valid."""
    from cbec.ceb.safe_xml import parse_xml

    schema = official_schema(kind)
    doc = parse_xml(xml)
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]  # type: ignore[attr-defined]


def schema_kind_of(msg_type: str) -> Literal["import", "export"]:
    """Which business XSD declares ``msg_type`` (``CEB311`` or ``CEB311Message``)."""
    from cbec.ceb.compiled import root_for

    return root_for(msg_type).kind
