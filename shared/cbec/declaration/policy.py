"""What an owning service tells the shared lifecycle engine about each document type it owns.

The engine (:mod:`cbec.declaration.application`) knows the lifecycle every document shares; a
:class:`DocumentPolicy` holds the rules of one type: who may send it, which of its codes name the
sender, which parties must differ, where it belongs (its clearance), how it may change, and whether
it waits at intake for the saga's release. Each owning service defines the policies of its types in
its ``domain`` module; nothing in shared code branches on a message code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from cbec.contracts.commands import DeclareDocument
from cbec.contracts.events import Links
from cbec.declaration.doctypes import DocType
from cbec.declaration.lifecycle import Declaration
from cbec.errors import CebError
from cbec.tenants import Role


@dataclass(frozen=True, slots=True)
class Identity:
    """Where a document belongs: its clearance(s) and the links every event of its stream carries."""

    clearance_key: str
    links: Links
    errors: list[CebError] = field(default_factory=list)


class DocumentReader(Protocol):
    """The service's own documents, for rules that look at another document it owns (a waybill)."""

    def load(self, doc_type: DocType, stream_id: uuid.UUID) -> Declaration: ...


def platform_clearance(ebp_code: object, order_no: object) -> str:
    """The clearance key ``ebpCode:orderNo`` ('' unless both are known)."""
    return f"{ebp_code}:{order_no}" if ebp_code and order_no else ""


@dataclass(frozen=True)
class DocumentPolicy:
    """The rules of one document type. Subclass and override the methods for what a type does differently.

    - ``sender_roles``: the roles that may send it; ``sender_code_fields``: its codes of which one
      must be the sender's own (or delegated to it).
    - ``in_flight_code``: refuses another version while customs has not answered the current one.
    - ``locked_code``: refuses a change once the clearance's list is declared (None: never locked).
    - ``no_change_code`` / ``no_change_released_code``: the type never changes once customs accepted
      (None: it may), the second once the document is released (800/899).
    - ``deletable``: appType 3 may delete an accepted document; ``new_only``: only appType 1 is allowed.
    - ``held_at_intake``: it waits for the saga's release (the saga owns what it waits for).
    - ``too_many_lines_code``: refuses more lines than the type holds (:mod:`.shape`).
    """

    doc_type: DocType
    sender_roles: frozenset[Role]
    sender_code_fields: tuple[str, ...]
    in_flight_code: str = "CBEC-2001"
    locked_code: str | None = None
    no_change_code: str | None = None
    no_change_released_code: str | None = None
    deletable: bool = False
    new_only: bool = False
    held_at_intake: bool = False
    too_many_lines_code: str = "CBEC-0014"  # more lines than the type holds (customs' code where it has one)

    @property
    def code(self) -> str:
        return self.doc_type.code

    @property
    def where(self) -> str:
        """The node errors point into: the head, or the flat node."""
        return self.doc_type.head or self.doc_type.node

    def head(self, document: dict[str, Any]) -> dict[str, Any]:
        """The document's head ({} when it is not an object)."""
        head = document.get(self.doc_type.head) if self.doc_type.head else document
        return head if isinstance(head, dict) else {}

    def distinct_parties(self, head: dict[str, Any], ebp_code: str) -> list[CebError]:
        """Roles this one document shows that must be different enterprises (none by default)."""
        return []

    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        """The clearance key (``ebpCode:orderNo``, else the business key) and the stream's links."""
        head = self.head(command.document)
        clearance = platform_clearance(head.get("ebpCode", ""), head.get("orderNo", ""))
        return Identity(clearance or ":".join(key), Links(business_key=list(key)))

    def clearance_hint(self, command: DeclareDocument) -> str:
        """The clearance a command most likely belongs to, without reading anything ('' if unknown)."""
        head = self.head(command.document)
        return platform_clearance(head.get("ebpCode", ""), head.get("orderNo", ""))
