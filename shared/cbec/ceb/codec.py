"""Build and parse CEB messages with one generic, table-driven codec (lxml)."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from lxml import etree

from cbec.ceb.compiled import (
    ANY,
    CHILD,
    CHILDREN,
    FIELD,
    FIELDS,
    NS,
    SIGNATURE,
    CNode,
    CRoot,
    root_by_tag,
    root_for,
)
from cbec.ceb.dropped import described, hint, shown
from cbec.ceb.model import CebMessage
from cbec.ceb.safe_xml import MAX_BYTES, parse_xml
from cbec.errors import CebError, CebValidationError

__all__ = ["CebMessage", "build", "build_element", "message_type_of", "parse", "parse_element"]

_NSMAP = {"ceb": NS}
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_SubElement = etree.SubElement
_tostring = etree.tostring


def _type_error(path: str, message: str) -> CebValidationError:
    return CebValidationError([CebError("CBEC-MODEL", path, "model", message)])


def _build_node(parent: etree._Element, node: CNode, data: dict[str, Any], path: str) -> None:
    el = _SubElement(parent, node.tag)
    seen = 0
    for it in node.items:
        value = data.get(it.name)
        if value is None:
            continue
        seen += 1
        kind = it.kind
        if kind == FIELD:
            if type(value) is not str:
                raise _type_error(f"{path}.{it.name}", f"value must be str, got {type(value).__name__}")
            try:
                _SubElement(el, it.tag).text = value
            except ValueError:  # control characters and the like: not representable in XML 1.0
                raise _type_error(f"{path}.{it.name}", "contains characters XML 1.0 cannot carry") from None
        elif kind == CHILD:
            _build_node(el, it.node, value, f"{path}.{it.name}")  # type: ignore[arg-type]
        elif kind == CHILDREN:
            for i, sub in enumerate(value, 1):
                _build_node(el, it.node, sub, f"{path}.{it.name}[{i}]")  # type: ignore[arg-type]
        elif kind == FIELDS:
            for sub in value:
                _SubElement(el, it.tag).text = sub
        elif kind == ANY:
            holder = _SubElement(el, it.tag)
            if value:
                for frag in parse_xml(f"<x>{value}</x>".encode()):
                    holder.append(frag)
    if seen != len(data):
        unknown = sorted(set(data) - set(node.by_name))
        raise _type_error(path, f"unknown field(s) for {node.name}: {', '.join(unknown)}")


def build_element(msg: CebMessage) -> etree._Element:
    """The message as an lxml element tree (``ceb:`` prefix, XSD child order)."""
    try:
        croot = root_for(msg.type)
    except KeyError:
        raise _type_error("/", f"unknown message type {msg.type!r}") from None
    root = etree.Element(f"{{{NS}}}{croot.name}", nsmap=_NSMAP)
    root.set("guid", msg.guid)
    root.set("version", msg.version)
    doc_item = croot.doc
    for it in croot.node.items:
        name = it.name
        if it is doc_item:
            for i, doc in enumerate(msg.docs, 1):
                _build_node(root, it.node, doc, f"{name}[{i}]")  # type: ignore[arg-type]
        elif name == "BaseTransfer":
            if msg.base_transfer is not None:
                _build_node(root, it.node, msg.base_transfer, name)  # type: ignore[arg-type]
        elif name == "BaseSubscribe":
            for i, sub in enumerate(msg.base_subscribe, 1):
                _build_node(root, it.node, sub, f"{name}[{i}]")  # type: ignore[arg-type]
        elif name == "ExtendMessage":
            if msg.extend_message is not None:
                _build_node(root, it.node, msg.extend_message, name)  # type: ignore[arg-type]
        elif it.kind == SIGNATURE and msg.signature is not None:
            root.append(parse_xml(msg.signature))
    if not croot.is_declaration and (msg.base_transfer or msg.base_subscribe or msg.extend_message):
        raise _type_error("/", f"{croot.name} carries no BaseTransfer/BaseSubscribe/ExtendMessage")
    if msg.signature is not None and "Signature" not in croot.node.by_name:
        raise _type_error("/", f"{croot.name} carries no signature")
    return root


def build(msg: CebMessage) -> bytes:
    """Serialize ``msg`` to UTF-8 XML with an XML declaration."""
    return _tostring(build_element(msg), xml_declaration=True, encoding="UTF-8")


# Repeated children (lines, documents) are parsed up to this many, far above any maxOccurs (99 lines,
# 100 documents); past it they are only counted, so a 3 MB message of 200,000 empty lines costs one
# CBEC-COUNT finding and 1,000 parsed lines, not 1.8 million CBEC-REQUIRED findings and 8 s.
PARSED_MAX = 1_000


class _Parse:
    """One parse: collects findings; strict raises them, lenient keeps them as warnings."""

    __slots__ = ("findings",)

    def __init__(self) -> None:
        self.findings: list[CebError] = []

    def note(self, code: str, path: str, message: str) -> None:
        self.findings.append(CebError(code, path, "XSD content model", message))

    def node(self, el: etree._Element, node: CNode, path: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        dispatch = node.dispatch
        fields = node.fields
        last = -1
        required = 0
        extra: dict[str, int] = {}
        text = el.text
        if text is not None and not text.isspace():
            self.note(
                "CBEC-UNEXPECTED",
                path,
                f"{node.name} has text of its own; it holds elements only; the text {shown('', text)} was not kept",
            )
        for ch in el:
            tag = ch.tag
            fast = fields.get(tag)
            if fast is not None and fast[0] > last:  # the common case first: the next field in XSD order
                last, name, req = fast
                data[name] = ch.text or ""
                required += req
                continue
            entry = dispatch.get(tag)
            if entry is None:
                self.unplaced(ch, node, path)
                continue
            index, name, kind, sub, req = entry
            if index <= last:
                if index < last:
                    self.note("CBEC-ORDER", f"{path}.{name}", f"{name} is out of XSD order in {node.name}")
                if name in data and (kind == FIELD or kind == CHILD or kind == ANY):
                    self.note(
                        "CBEC-DUPLICATE",
                        f"{path}.{name}",
                        f"{name} occurs more than once in {node.name} (the XSD allows one); "
                        f"the first is kept and this one dropped: {described(ch)}",
                    )
                    continue
            else:
                last = index
            if kind == FIELD:
                data[name] = ch.text or ""
                required += req
            elif kind == CHILDREN:
                lst = data.get(name)
                if lst is None:
                    lst = data[name] = []
                    required += req
                if len(lst) >= PARSED_MAX:
                    extra[name] = extra.get(name, 0) + 1  # counted, not parsed: one CBEC-COUNT finding
                    continue
                lst.append(self.node(ch, sub, f"{path}.{name}[{len(lst) + 1}]"))  # type: ignore[arg-type]
            elif kind == CHILD:
                data[name] = self.node(ch, sub, f"{path}.{name}")  # type: ignore[arg-type]
                required += req
            elif kind == FIELDS:
                if name not in data:
                    data[name] = []
                    required += req
                data[name].append(ch.text or "")
            elif kind == ANY:
                data[name] = "".join(serialize_detached(c).decode() for c in ch)
                required += req
        for name, most in node.bounded:
            if len(data.get(name, ())) + extra.get(name, 0) > most:
                self.note("CBEC-COUNT", f"{path}.{name}", f"{name} occurs more than {most} times in {node.name}")
        if required != len(node.required):
            for name in node.required:
                if name not in data:
                    self.note("CBEC-REQUIRED", f"{path}.{name}", f"required element {name} is missing in {node.name}")
        return data

    def unplaced(self, el: etree._Element, node: CNode, path: str) -> None:
        """An element ``node`` does not declare: a finding with its value, never a silent drop."""
        local = etree.QName(el).localname
        where = f"{path}.{local}" if path else local
        self.note(
            "CBEC-UNEXPECTED", where, f"element {local} is not declared in {node.name}{hint(el, node)}; {described(el)}"
        )


def serialize_detached(el: etree._Element) -> bytes:
    """``el`` as standalone UTF-8 XML, without namespace declarations it does not use."""
    copy = deepcopy(el)
    copy.tail = None
    etree.cleanup_namespaces(copy)
    return _tostring(copy, encoding="UTF-8", xml_declaration=False)


def parse_element(root: etree._Element, *, strict: bool = True) -> CebMessage:
    """Parse an already-parsed (trusted-parser) root element into a CebMessage."""
    p = _Parse()
    croot = root_by_tag(root.tag)
    if croot is None:
        root, croot = _lenient_root(root, p)
    node = croot.node
    doc_name = croot.doc.name
    guid = root.get("guid")
    version = root.get("version")
    if len(root.attrib) > (guid is not None) + (version is not None):
        for attr, value in root.attrib.items():
            attr = str(attr)
            if attr not in ("guid", "version") and not attr.startswith(_XSI):
                like = f" (did you mean {attr.lower()}?)" if attr.lower() in ("guid", "version") else ""
                p.note(
                    "CBEC-UNEXPECTED",
                    f"@{attr}",
                    f"attribute {attr} is not declared on {croot.name}{like}; "
                    f"its value {shown(attr, str(value))} was not kept",
                )
    if guid is None:
        p.note("CBEC-REQUIRED", "@guid", f"{croot.name} has no guid attribute")
    if version is None:
        p.note("CBEC-REQUIRED", "@version", f"{croot.name} has no version attribute")
    msg = CebMessage(type=croot.type, docs=[], guid=guid or "", version=version or "")
    last = -1
    extra_docs = 0
    seen: set[str] = set()  # the single envelope items (BaseTransfer, ExtendMessage, Signature) met so far
    for ch in root:
        it = node.by_tag.get(ch.tag)
        if it is None:
            p.unplaced(ch, node, "")
            continue
        name = it.name
        if it.index < last:
            p.note("CBEC-ORDER", name, f"{name} is out of XSD order in {croot.name}")
        last = it.index
        if name == doc_name:
            if len(msg.docs) >= PARSED_MAX:
                extra_docs += 1  # counted, not parsed: one CBEC-COUNT finding below
                continue
            path = f"{doc_name}[{len(msg.docs) + 1}]"
            msg.docs.append(p.node(ch, it.node, path))  # type: ignore[arg-type]
        elif name != "BaseSubscribe" and name in seen:
            p.note(
                "CBEC-DUPLICATE",
                name,
                f"{name} occurs more than once in {croot.name} (the XSD allows one); "
                f"the first is kept and this one dropped: {described(ch)}",
            )
            continue
        elif name == "BaseTransfer":
            seen.add(name)
            msg.base_transfer = p.node(ch, it.node, name)  # type: ignore[arg-type]
        elif name == "BaseSubscribe":
            path = f"BaseSubscribe[{len(msg.base_subscribe) + 1}]"
            msg.base_subscribe.append(p.node(ch, it.node, path))  # type: ignore[arg-type]
        elif name == "ExtendMessage":
            seen.add(name)
            msg.extend_message = p.node(ch, it.node, name)  # type: ignore[arg-type]
        elif it.kind == SIGNATURE:
            seen.add(name)
            msg.signature = serialize_detached(ch)
    if not msg.docs:
        p.note("CBEC-REQUIRED", doc_name, f"{croot.name} has no {doc_name}")
    elif 0 < croot.doc.max_occurs < len(msg.docs) + extra_docs:
        p.note("CBEC-COUNT", doc_name, f"{croot.name} holds at most {croot.doc.max_occurs} {doc_name}")
    if len(msg.base_subscribe) > 5:
        p.note("CBEC-COUNT", "BaseSubscribe", f"{croot.name} holds at most 5 BaseSubscribe")
    if croot.is_declaration and "BaseTransfer" not in seen:
        p.note("CBEC-REQUIRED", "BaseTransfer", f"{croot.name} has no BaseTransfer")
    if p.findings:
        if strict:
            raise CebValidationError(p.findings)
        msg.warnings.extend(p.findings)
    return msg


def _lenient_root(root: etree._Element, p: _Parse) -> tuple[etree._Element, CRoot]:
    """The root a near-miss names: ``CEBnnn`` (the official CEB214 sample) for ``CEBnnnMessage``, and a
    message without the CEB namespace (read as a copy moved into it); each noted as a finding."""
    qn = etree.QName(root)
    local = qn.localname
    name = local if local.endswith("Message") else f"{local}Message"
    croot = None
    if qn.namespace in (NS, None) and local.startswith("CEB"):
        try:
            croot = root_for(name)
        except KeyError:
            croot = None
    if croot is None:
        raise CebValidationError(
            [
                CebError(
                    "CBEC-ROOT",
                    "/",
                    "XSD root",
                    f"root element {root.tag} is not a CEB 2022-05 message (expected {{{NS}}}CEBnnnMessage)",
                )
            ]
        )
    if qn.namespace is None:
        p.note(
            "CBEC-NAMESPACE",
            "/",
            f"{local} and its elements carry no namespace; the XSD declares them in {NS} "
            "(read as if they did: lenient mode accepts this with a warning)",
        )
        root = _into_ceb_namespace(root)
    if local != croot.name:
        p.note("CBEC-ROOT", "/", f"root element is {local}; the XSD declares {croot.name}")
    return root, croot


def _into_ceb_namespace(root: etree._Element) -> etree._Element:
    """A copy of ``root`` with every element that has no namespace moved into the CEB one, except the
    free content of ``ExtendMessage/Message`` (xs:any), which stays as written."""
    copy = deepcopy(root)
    todo = [copy]  # an explicit stack: libxml2 already bounds the depth, this keeps Python's stack out of it
    while todo:
        el = todo.pop()
        local = el.tag
        if not isinstance(local, str) or local.startswith("{"):
            continue
        el.tag = f"{{{NS}}}{local}"
        parent = el.getparent()
        if local == "Message" and parent is not None and parent.tag == f"{{{NS}}}ExtendMessage":
            continue
        todo.extend(el)
    return copy


def parse(xml: bytes, *, strict: bool = True, max_bytes: int = MAX_BYTES) -> CebMessage:
    """Parse CEB XML (any prefix, or a default namespace) into a CebMessage.

    Strict mode raises CebValidationError for anything the XSD content model rejects
    (unknown, out-of-order, duplicated or missing elements, a wrong root name); lenient
    mode repairs what it can and lists each repair in ``msg.warnings``. Field values are
    not checked here: see ``validate_structure``.
    """
    return parse_element(parse_xml(xml, max_bytes=max_bytes), strict=strict)


def message_type_of(xml: bytes) -> str:
    """``CEB311`` etc. from the root element (or, for a DxpMsg, from its MsgType)."""
    root = parse_xml(xml)
    croot = root_by_tag(root.tag)
    if croot is not None:
        return croot.type
    qn = etree.QName(root)
    if qn.localname in ("DxpMsg", "DxpMsgSv"):
        from cbec.ceb.dxp import unwrap_element

        return message_type_of(unwrap_element(root).data)
    if qn.namespace in (NS, None) and qn.localname.startswith("CEB"):
        return _lenient_root(root, _Parse())[1].type
    raise CebValidationError([CebError("CBEC-ROOT", "/", "XSD root", f"{root.tag} is not a CEB message")])
