"""Extension points of the intake: rules that keep their own state in the service's store.

A guard sees each document at intake and each event the application is about to append; what it
returns commits in the same transaction as the document's events, so a guard's bookkeeping (say, a
buyer's quota) can never drift from the documents it counts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from cbec.declaration.doctypes import DocType
from cbec.declaration.lifecycle import Declaration
from cbec.declaration.ports import StreamAppend
from cbec.errors import CebError


@dataclass(frozen=True, slots=True)
class Verdict:
    errors: list[CebError] = field(default_factory=list)
    appends: list[StreamAppend] = field(default_factory=list)


class Guard(Protocol):
    def on_intake(
        self, doc_type: DocType, stream_id: uuid.UUID, state: Declaration, document: dict[str, Any]
    ) -> Verdict:
        """Refuse the document (errors) or accept it with bookkeeping (appends)."""
        ...

    def on_events(
        self,
        doc_type: DocType,
        stream_id: uuid.UUID,
        state: Declaration,
        events: list[tuple[str, dict[str, Any]]],
    ) -> list[StreamAppend]:
        """Bookkeeping for events about to be appended to a document (receipts, withdrawals …)."""
        ...
