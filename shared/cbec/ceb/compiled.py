"""Field tables compiled once into fast lookup structures for the codec and the validators."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from cbec.ceb.spec import Child, F, Schema, Sig
from cbec.ceb.tables import EXPORT, IMPORT

NS = "http://www.chinaport.gov.cn/ceb"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
SIGNATURE_TAG = f"{{{DS_NS}}}Signature"

# Item kinds (ints: compared in the hot loops).
FIELD, FIELDS, CHILD, CHILDREN, ANY, SIGNATURE = range(6)

# Root items that are not documents: they map onto CebMessage attributes.
ENVELOPE_ITEMS = frozenset({"BaseTransfer", "BaseSubscribe", "ExtendMessage", "Signature"})


@dataclass(slots=True, eq=False)
class CItem:
    index: int
    name: str
    tag: str
    kind: int
    min_occurs: int
    max_occurs: int  # -1: unbounded
    spec: F | None = None
    node: CNode | None = None

    @property
    def sub(self) -> CNode:
        """The child node's table (complex items only)."""
        if self.node is None:
            raise TypeError(f"{self.name} is not a complex element")
        return self.node

    @property
    def facets(self) -> F:
        """The field's facets (simple items only)."""
        if self.spec is None:
            raise TypeError(f"{self.name} is not a simple element")
        return self.spec


@dataclass(slots=True, eq=False)
class CNode:
    key: str
    name: str
    tag: str
    desc: str
    items: list[CItem] = field(default_factory=list)
    by_tag: dict[str, CItem] = field(default_factory=dict)
    by_name: dict[str, CItem] = field(default_factory=dict)
    # lowercased name -> name: the hint for a wrong-case element ("did you mean gmodel?").
    by_lower: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    # tag -> (index, name, kind, child node, 1 if required): the parser's hot-loop view of ``items``.
    dispatch: dict[str, tuple[int, str, int, CNode | None, int]] = field(default_factory=dict)
    # tag -> (index, name, 1 if required) of the single simple fields: the parser's fast path.
    fields: dict[str, tuple[int, str, int]] = field(default_factory=dict)
    # (name, maxOccurs) of the bounded repeated children (OrderList: 99 …).
    bounded: tuple[tuple[str, int], ...] = ()


@dataclass(slots=True, eq=False)
class CRoot:
    type: str  # "CEB311"
    name: str  # "CEB311Message"
    kind: Literal["import", "export"]
    node: CNode
    doc: CItem  # the business-document item (Order, InvtCancel, OrderReturn, Tax, ...)
    is_declaration: bool  # has BaseTransfer


def _compile_node(schema: Schema, key: str, memo: dict[str, CNode]) -> CNode:
    if key in memo:
        return memo[key]
    spec = schema.nodes[key]
    node = CNode(key, spec.name, f"{{{NS}}}{spec.name}", spec.desc)
    memo[key] = node
    required: list[str] = []
    for i, it in enumerate(spec.items):
        if isinstance(it, Sig):
            ci = CItem(i, "Signature", SIGNATURE_TAG, SIGNATURE, it.min_occurs, 1)
        elif isinstance(it, Child):
            kind = CHILD if it.max_occurs == 1 else CHILDREN
            ci = CItem(
                i,
                it.name,
                f"{{{NS}}}{it.name}",
                kind,
                it.min_occurs,
                it.max_occurs,
                node=_compile_node(schema, it.node, memo),
            )
        else:
            kind = ANY if it.kind == "any" else (FIELD if it.max_occurs == 1 else FIELDS)
            ci = CItem(i, it.name, f"{{{NS}}}{it.name}", kind, it.min_occurs, it.max_occurs, spec=it)
        node.items.append(ci)
        node.by_tag[ci.tag] = ci
        node.by_name[ci.name] = ci
        node.by_lower[ci.name.lower()] = ci.name
        if ci.min_occurs > 0:
            required.append(ci.name)
    node.required = tuple(required)
    node.bounded = tuple(
        (ci.name, ci.max_occurs) for ci in node.items if ci.kind in (CHILDREN, FIELDS) and ci.max_occurs > 1
    )
    node.dispatch = {ci.tag: (ci.index, ci.name, ci.kind, ci.node, 1 if ci.min_occurs > 0 else 0) for ci in node.items}
    node.fields = {ci.tag: (ci.index, ci.name, 1 if ci.min_occurs > 0 else 0) for ci in node.items if ci.kind == FIELD}
    return node


@cache
def _roots() -> dict[str, CRoot]:
    out: dict[str, CRoot] = {}
    for schema in (IMPORT, EXPORT):
        memo: dict[str, CNode] = {}
        for name in schema.roots:
            node = _compile_node(schema, name, memo)
            docs = [it for it in node.items if it.name not in ENVELOPE_ITEMS]
            assert len(docs) == 1, name
            mtype = name.removesuffix("Message")
            out[mtype] = CRoot(mtype, name, schema.kind, node, docs[0], "BaseTransfer" in node.by_name)
    return out


def all_types() -> list[str]:
    """Every message type of the 2022-05 import and export XSDs (``CEB311`` … ``CEB900``)."""
    return sorted(_roots())


@cache
def _lookup() -> dict[str, CRoot]:
    """``CEB311``, ``CEB311Message`` and ``{ns}CEB311Message`` → root, for O(1) hot-path lookups."""
    out: dict[str, CRoot] = {}
    for mtype, croot in _roots().items():
        out[mtype] = out[croot.name] = croot
    return out


@cache
def _by_tag() -> dict[str, CRoot]:
    return {f"{{{NS}}}{croot.name}": croot for croot in _roots().values()}


def root_for(msg_type: str) -> CRoot:
    """The compiled root for ``CEB311`` or ``CEB311Message``; KeyError if unknown."""
    return _lookup()[msg_type]


def root_by_tag(tag: str) -> CRoot | None:
    """The root whose element is ``tag`` (Clark notation), else None."""
    return _by_tag().get(tag)
