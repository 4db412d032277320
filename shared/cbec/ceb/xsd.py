"""The official 2022-05 XSDs: the tests' oracle, and the last check of what ``cbec build`` writes.

The product's own validation is ``structure.py`` (faster, with paths and customs codes); the XSDs
are package data (``official/xsd``, provenance in ``official/README.md``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Literal

from lxml import etree

from cbec.ceb.model import CebMessage
from cbec.errors import CebError
from cbec.reference import xsd_dir

SchemaKind = Literal["import", "export", "dxp"]

_FILES: dict[str, str] = {"import": "ceb-import.xsd", "export": "ceb-export.xsd", "dxp": "dxp-transport.xsd"}

XSD_CODE = "0002"
"""The code a schema finding carries (customs' "报文格式校验失败" class of answer)."""

# Stands in for the signature of a message checked before it is signed: the smallest ds:Signature the
# xmldsig schema accepts, so the XSD judges everything else. Never sent: only the copy checked gets it.
_SIGNATURE_STAND_IN = (
    b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    b'<ds:CanonicalizationMethod Algorithm=""/><ds:SignatureMethod Algorithm=""/>'
    b'<ds:Reference><ds:DigestMethod Algorithm=""/><ds:DigestValue/></ds:Reference>'
    b"</ds:SignedInfo><ds:SignatureValue/></ds:Signature>"
)


@cache
def official_schema(kind: SchemaKind) -> etree.XMLSchema:
    """The compiled official schema (``dxp`` is the transport XSD, which includes the terminal one)."""
    path = xsd_dir() / _FILES[kind]
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


def xsd_errors(xml: bytes, kind: SchemaKind) -> list[str]:
    """Schema errors of ``xml`` (``line N: message``); empty when valid."""
    return [f"line {line}: {message}" for line, _, message in _errors(xml, official_schema(kind))]


def _errors(xml: bytes, schema: etree.XMLSchema) -> list[tuple[int, str, str]]:
    from cbec.ceb.safe_xml import parse_xml

    if schema.validate(parse_xml(xml)):
        return []
    return [(e.line, e.path or "/", e.message) for e in schema.error_log]  # type: ignore[attr-defined]


def xsd_findings(xml: bytes, schema: etree.XMLSchema) -> list[CebError]:
    """Each schema error of ``xml`` as a finding whose path is the element's XPath."""
    return [CebError(XSD_CODE, f"XSD {path}", "official XSD", message) for _, path, message in _errors(xml, schema)]


def needs_signature(msg: CebMessage) -> bool:
    """True for an unsigned message whose root requires ds:Signature (CEB621/623/625/711)."""
    from cbec.ceb.compiled import root_for

    sig = root_for(msg.type).node.by_name.get("Signature")
    return msg.signature is None and sig is not None and sig.min_occurs > 0


def built_findings(msg: CebMessage) -> list[CebError]:
    """The official XSD's findings on ``build(msg)``; a message that still awaits its mandatory
    signature is checked as if signed (see :func:`needs_signature`)."""
    from cbec.ceb.codec import build

    checked = replace(msg, signature=_SIGNATURE_STAND_IN) if needs_signature(msg) else msg
    return xsd_findings(build(checked), official_schema(schema_kind_of(msg.type)))


def schema_kind_of(msg_type: str) -> Literal["import", "export"]:
    """Which business XSD declares ``msg_type`` (``CEB311`` or ``CEB311Message``)."""
    from cbec.ceb.compiled import root_for

    return root_for(msg_type).kind
