"""Import drafts (a sheet being previewed and fixed) and committed batches (their documents declared one
by one through the platform, with live progress and downloadable results).

Kept in this process's memory: a draft lives as long as its preview, and a batch's documents are in the
platform anyway (the results file is a convenience); a restart loses the progress view, not a document.
"""

from __future__ import annotations

import csv
import io
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from console_service.importing import Built, Row, Template


@dataclass
class Draft:
    id: str
    owner: str  # username
    enterprise: str
    template: Template
    filename: str
    rows: list[Row]

    def error_count(self) -> int:
        return sum(r.error_count() for r in self.rows if not r.dropped)

    def kept(self) -> list[Row]:
        return [r for r in self.rows if not r.dropped]


@dataclass
class Item:
    """One document of a batch: its rows, the platform's answer and the latest status seen."""

    rows: list[int]
    doc_type: str
    business_key: list[str]
    command: dict[str, Any]
    result: str = "pending"  # pending | accepted | duplicate | refused | failed
    status: str = ""
    status_code: int | None = None
    clearance_key: str = ""
    errors: list[str] = field(default_factory=list)


def push_status(item: Item) -> str:
    """The seeds' push statuses (seed 003): 待推送 (pending), 申报中 (declared, no verdict), 成功, 失败."""
    if item.result == "pending":
        return "待推送"
    if item.result not in ("accepted", "duplicate") or item.status_code in (100, -1, -301010):
        return "失败"
    return "成功" if item.status_code is not None and item.status_code >= 120 else "申报中"


@dataclass
class Batch:
    id: str
    name: str
    owner: str
    enterprise: str
    doc_type: str
    created: datetime
    items: list[Item]
    done: bool = False

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            out[item.result] = out.get(item.result, 0) + 1
        return out

    def results_csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["rows", "docType", "businessKey", "push", "result", "status", "statusCode",
                         "clearanceKey", "errors"])
        for item in self.items:
            writer.writerow([" ".join(map(str, item.rows)), item.doc_type, "/".join(item.business_key),
                             push_status(item), item.result, item.status,
                             "" if item.status_code is None else item.status_code, item.clearance_key,
                             " | ".join(item.errors)])
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "done": self.done, "counts": self.counts(),
                "items": [{"rows": i.rows, "businessKey": i.business_key, "push": push_status(i),
                           "result": i.result, "status": i.status,
                           "statusCode": i.status_code, "clearanceKey": i.clearance_key, "errors": i.errors}
                          for i in self.items]}


class Workbench:
    """Drafts and batches by id, each visible only to the user and enterprise that made it."""

    def __init__(self) -> None:
        self.drafts: dict[str, Draft] = {}
        self.batches: dict[str, Batch] = {}
        self._lock = threading.Lock()

    def add_draft(self, owner: str, enterprise: str, template: Template, filename: str, rows: list[Row]) -> Draft:
        draft = Draft(uuid.uuid4().hex, owner, enterprise, template, filename, rows)
        with self._lock:
            self.drafts[draft.id] = draft
        return draft

    def draft(self, draft_id: str, owner: str, enterprise: str) -> Draft | None:
        draft = self.drafts.get(draft_id)
        return draft if draft and draft.owner == owner and draft.enterprise == enterprise else None

    def commit(self, draft: Draft, name: str, built: list[Built], key_of: Any) -> Batch:
        items = []
        for n, document in enumerate(built, start=1):
            command: dict[str, Any] = {"commandId": f"console-{uuid.uuid4().hex}", "sender": draft.enterprise,
                                       "docType": draft.template.doc_type, "document": document.document}
            if document.ebp_code:
                command["ebpCode"] = document.ebp_code
            items.append(Item([r.number for r in document.rows], draft.template.doc_type,
                              list(key_of(document.document)), command))
            del n
        batch = Batch(uuid.uuid4().hex, name, draft.owner, draft.enterprise, draft.template.doc_type,
                      datetime.now(UTC), items)
        with self._lock:
            self.batches[batch.id] = batch
            self.drafts.pop(draft.id, None)
        return batch

    def batch(self, batch_id: str, enterprise: str) -> Batch | None:
        batch = self.batches.get(batch_id)
        return batch if batch and batch.enterprise == enterprise else None

    def of(self, enterprise: str) -> list[Batch]:
        return sorted((b for b in self.batches.values() if b.enterprise == enterprise), key=lambda b: b.created,
                      reverse=True)
