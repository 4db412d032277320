"""The declarative vocabulary of the CEB field tables (see ``tables.py``, generated from the XSDs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["str", "decimal", "int", "any"]


@dataclass(frozen=True, slots=True)
class F:
    """A simple-content element: a text field with its XSD facets.

    ``kind='any'`` is ExtendMessage's ``Message`` (xs:any, kept as serialized XML text).
    ``max_occurs=-1`` means unbounded.
    """

    name: str
    desc: str
    kind: FieldKind = "str"
    min_occurs: int = 1
    max_occurs: int = 1
    min_len: int | None = None
    max_len: int | None = None
    total_digits: int | None = None
    fraction_digits: int | None = None
    fixed: str | None = None
    default: str | None = None
    collapse: bool = False


@dataclass(frozen=True, slots=True)
class Child:
    """A complex child node; ``node`` is the key of its table in ``Schema.nodes``."""

    name: str
    node: str
    min_occurs: int = 1
    max_occurs: int = 1


@dataclass(frozen=True, slots=True)
class Sig:
    """The ``ds:Signature`` position in a root's sequence."""

    min_occurs: int = 0
    name: str = "Signature"


Item = F | Child | Sig


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    name: str
    desc: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Schema:
    kind: Literal["import", "export"]
    nodes: dict[str, Node]
    roots: tuple[str, ...]
