"""Numbers customs assigns to a document in its receipts, and the index that finds the document by them.

A document is declared under its own business key (agentCode+copNo …), but later messages name it by
the number customs gave it: an export list by its invtNo (CEB604), a summary by its sumNo (CEB702).
When a receipt carries such a number (the policy's ``numbered_by``), the owning service records
``NumberAssigned`` in a stream of its own store named by the type, the field and the number, in the
same transaction as the receipt. A later document finds the one it names there (``DeclarationCore.
numbered``). A result arriving before the number is known waits on the same stream (:mod:`.parking`).
The index is bookkeeping: it never leaves the service (``routing.INTERNAL_EVENTS``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from cbec.declaration.doctypes import STREAM_NAMESPACE, DocType
from cbec.declaration.ports import StreamAppend

NUMBER_ASSIGNED = "NumberAssigned"


def stream_id(doc_type: DocType, name: str, value: str) -> uuid.UUID:
    """The index stream of one number: ``number:<kind>:<field>:<value>``."""
    return uuid.uuid5(STREAM_NAMESPACE, f"number:{doc_type.kind}:{name}:{value}")


def assigned(events: Sequence[tuple[str, dict[str, Any]]]) -> tuple[str, ...] | None:
    """The business key the index stream names last (a number customs gave again names the latest)."""
    keys = [tuple(str(k) for k in data.get("businessKey", [])) for t, data in events if t == NUMBER_ASSIGNED]
    return keys[-1] if keys else None


def index(
    doc_type: DocType, key: tuple[str, ...], numbers: dict[str, str],
    read: Callable[[uuid.UUID], Sequence[tuple[str, dict[str, Any]]]],
) -> list[StreamAppend]:
    """The appends recording ``numbers`` (field → value) for the document ``key``; none for a number the
    index already gives to this document. ``read`` reads a stream (``DeclarationStore.read``)."""
    out: list[StreamAppend] = []
    for name, value in sorted(numbers.items()):
        stream = stream_id(doc_type, name, value)
        events = read(stream)
        if assigned(events) == key:
            continue
        data = {"docType": doc_type.code, "businessKey": list(key), "field": name, "value": value}
        out.append(StreamAppend(stream, len(events), [(NUMBER_ASSIGNED, data)]))
    return out
