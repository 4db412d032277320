"""What an import template is: its columns (Chinese header, English header, the CEB field each fills) and
how rows become one document (its head or flat node, its lines, the presets and derived fields)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cbec.tenants import Tenant


@dataclass(frozen=True)
class Column:
    header: str  # Chinese, as in the seeds' templates
    english: str
    field: str  # "Head.field" (the head, or the flat node), "List.field" (a line) or "Command.field"
    decimals: int | None = None  # a number with at most this many decimals
    required: bool = True
    default: str = ""  # what an empty cell of an optional column stands for


@dataclass(frozen=True)
class Template:
    doc_type: str
    columns: tuple[Column, ...]
    head: str | None  # the document's head element; None: a flat node (the document is its fields)
    lines: str | None = None  # its list element, for templates with lines
    group_by: str = ""  # the head field rows are grouped by (orders: orderNo; lists: copNo)
    preset: Callable[[Tenant], dict[str, str]] = field(default=lambda _t: {})
    derive: Callable[[dict[str, Any]], None] = field(default=lambda _d: None)  # sums, numbering
    strategies: bool = False  # an export strategy (seed 003) may be chosen for the batch
    strategy: str = ""  # the one chosen (its command field; its defaults fill the documents)

    def headers(self, english: bool = False) -> list[str]:
        return [c.english if english else c.header for c in self.columns]

    def head_of(self, document: dict[str, Any]) -> dict[str, Any]:
        """The head (or the flat node) of one of its documents."""
        head = document[self.head] if self.head else document
        assert isinstance(head, dict)
        return head


def numbered(lines: str) -> Callable[[dict[str, Any]], None]:
    """The derive step of a document whose lines only need their item numbers (gnum 1, 2, …)."""

    def derive(document: dict[str, Any]) -> None:
        for n, line in enumerate(document.get(lines, []), start=1):
            line["gnum"] = str(n)

    return derive
