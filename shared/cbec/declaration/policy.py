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
from cbec.contracts.customs import ReceiptReceived
from cbec.contracts.events import EventData, Links, StreamFields
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

    def numbered(self, doc_type: DocType, name: str, value: str) -> Declaration | None:
        """The document of ``doc_type`` customs gave number ``value`` in field ``name`` (:mod:`.numbers`)."""
        ...


def platform_clearance(ebp_code: object, order_no: object) -> str:
    """The clearance key ``ebpCode:orderNo`` ('' unless both are known)."""
    return f"{ebp_code}:{order_no}" if ebp_code and order_no else ""


EXPORT_PREFIX = "E"


def export_clearance(ebc_code: object, order_no: object) -> str:
    """The clearance key of an export order, ``E:<ebcCode>:<orderNo>`` ('' unless both are known).

    The seller (ebcCode) names it because an overseas platform may declare ebpCode ``无``; the prefix keeps
    it apart from an import clearance ``ebpCode:orderNo``."""
    return f"{EXPORT_PREFIX}:{ebc_code}:{order_no}" if ebc_code and order_no else ""


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
    - ``takes_strategy``: an export strategy applies to it (:mod:`.strategies`); ``strategy_fields``: the head
      fields a strategy fills (field, strategy attribute); ``is_list``: the list a 报关单 strategy declares none of.
    - ``stale_code``: refuses a version dated (appTime) before the stored one (None: not checked).
    - ``overseas_platform``: its ebpCode may be ``无`` (an overseas platform without a customs code).
    - ``numbered_by``: receipt fields holding a number customs assigns to the document (an export list's
      invtNo); the service indexes it, so later documents naming the number find it (:mod:`.numbers`).
    - ``results``: customs-issued messages (not receipts) recorded on this type's streams, each
      found by business key or by ``result_number`` and turned into an event by :meth:`result_event`;
      one naming a number not (yet) assigned here is parked until a receipt assigns it (:mod:`.parking`);
      one wrong in itself (no or an ill-formed number) is dead-lettered when :meth:`unknown_result` says
      why, else dropped.
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
    max_lines: int | None = None  # the lines it holds, when not the shared bound of its line node (:mod:`.shape`)
    overseas_platform: bool = False
    stale_code: str | None = None
    takes_strategy: bool = False
    strategy_fields: tuple[tuple[str, str], ...] = ()
    is_list: bool = False
    numbered_by: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    result_number: str = ""

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

    def result_event(self, result: ReceiptReceived, stream: StreamFields) -> EventData | None:
        """The event recording customs' ``result`` (one of ``results``) on the document's stream (None: it
        is not for this type). A ``ContractError`` refuses it (dead-lettered)."""
        return None

    def unknown_result(self, result: ReceiptReceived) -> CebError | None:
        """Why customs' ``result``, naming no document here, is wrong in itself and dead-lettered (e.g. its
        ``result_number`` missing or ill-formed). None: one naming a number is parked for it, one naming none
        is logged and dropped."""
        return None


@dataclass(frozen=True)
class ExportOrderPolicy(DocumentPolicy):
    """An export document naming its seller and order in its head (ebcCode, orderNo): its clearance is
    ``E:<ebcCode>:<orderNo>`` (:func:`export_clearance`), else its own business key."""

    def identity(self, command: DeclareDocument, key: tuple[str, ...], documents: DocumentReader) -> Identity:
        return Identity(self.clearance_hint(command) or ":".join(key), Links(business_key=list(key)))

    def clearance_hint(self, command: DeclareDocument) -> str:
        head = self.head(command.document)
        return export_clearance(head.get("ebcCode", ""), head.get("orderNo", ""))
