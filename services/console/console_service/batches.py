"""Import drafts (a sheet being previewed and fixed) and committed batches (their documents declared one
by one through the platform, with live progress and downloadable results).

:class:`Workbench` keeps them in this process's memory (the embedded development run);
:class:`console_service.stores.SqlWorkbench` writes them through to the console's database, personal
data encrypted, so a restart loses neither a draft nor a batch's progress.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from console_service.importing import TEMPLATES, Built, Row, Template


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

    def body(self) -> dict[str, Any]:
        """What a store keeps of the draft besides its id, owner and enterprise (holds personal data)."""
        return {"docType": self.template.doc_type, "strategy": self.template.strategy, "filename": self.filename,
                "rows": [{"number": r.number, "cells": r.cells, "errors": r.errors, "dropped": r.dropped}
                         for r in self.rows]}

    @classmethod
    def from_body(cls, draft_id: str, owner: str, enterprise: str, body: dict[str, Any]) -> Draft:
        rows = [Row(int(r["number"]), {str(k): str(v) for k, v in r["cells"].items()},
                    {str(k): [str(m) for m in v] for k, v in r.get("errors", {}).items()}, bool(r.get("dropped")))
                for r in body["rows"]]
        template = replace(TEMPLATES[str(body["docType"])], strategy=str(body.get("strategy", "")))
        return cls(draft_id, owner, enterprise, template, str(body["filename"]), rows)


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


_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def inert(cell: str) -> str:
    """``cell`` as a spreadsheet shows it but never runs it: one starting with = + - @ (or a tab or carriage
    return before one) gets a leading apostrophe, unless it is a plain number (a status code like -621012)."""
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.match(cell):
        return "'" + cell
    return cell


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
            writer.writerow([inert(str(cell)) for cell in (
                " ".join(map(str, item.rows)), item.doc_type, "/".join(item.business_key), push_status(item),
                item.result, item.status, "" if item.status_code is None else item.status_code,
                item.clearance_key, " | ".join(item.errors))])
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    def items_body(self) -> list[dict[str, Any]]:
        """The items as a store keeps them (their commands hold personal data)."""
        return [asdict(item) for item in self.items]

    @staticmethod
    def items_from(body: list[dict[str, Any]]) -> list[Item]:
        return [Item(**item) for item in body]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "done": self.done, "counts": self.counts(),
                "items": [{"rows": i.rows, "businessKey": i.business_key, "push": push_status(i),
                           "result": i.result, "status": i.status,
                           "statusCode": i.status_code, "clearanceKey": i.clearance_key, "errors": i.errors}
                          for i in self.items]}


class Workbench:
    """Drafts and batches by id, each visible only to the user and enterprise that made it.

    In memory; a subclass that stores them overrides the ``_stored_*``, ``_load_*`` and ``save_*`` hooks and
    :meth:`of` (objects read once stay cached here, so the submitting task and the progress page share one)."""

    def __init__(self) -> None:
        self.drafts: dict[str, Draft] = {}
        self.batches: dict[str, Batch] = {}
        self._lock = threading.Lock()

    def add_draft(self, owner: str, enterprise: str, template: Template, filename: str, rows: list[Row]) -> Draft:
        draft = Draft(uuid.uuid4().hex, owner, enterprise, template, filename, rows)
        self._stored_draft(draft)
        with self._lock:
            self.drafts[draft.id] = draft
        return draft

    def draft(self, draft_id: str, owner: str, enterprise: str) -> Draft | None:
        draft = self.drafts.get(draft_id) or self._load_draft(draft_id)
        if draft is None or draft.owner != owner or draft.enterprise != enterprise:
            return None
        with self._lock:
            return self.drafts.setdefault(draft.id, draft)

    def save_draft(self, draft: Draft) -> None:
        """Keep the draft's edits (its rows' cells, drops and findings)."""

    def commit(self, draft: Draft, name: str, built: list[Built], key_of: Any) -> Batch:
        items = []
        for document in built:
            command: dict[str, Any] = {"commandId": f"console-{uuid.uuid4().hex}", "sender": draft.enterprise,
                                       "docType": draft.template.doc_type, "document": document.document}
            command.update(document.command_fields())  # ebpCode (CEB511), orderNo (CEB505) …
            if draft.template.strategy:  # the service applies the preset the command names
                command["strategy"] = draft.template.strategy
            items.append(Item([r.number for r in document.rows], draft.template.doc_type,
                              list(key_of(document.document)), command))
        batch = Batch(uuid.uuid4().hex, name, draft.owner, draft.enterprise, draft.template.doc_type,
                      datetime.now(UTC), items)
        self._stored_commit(draft, batch)
        with self._lock:
            self.batches[batch.id] = batch
            self.drafts.pop(draft.id, None)
        return batch

    def batch(self, batch_id: str, enterprise: str) -> Batch | None:
        batch = self.batches.get(batch_id) or self._load_batch(batch_id)
        if batch is None or batch.enterprise != enterprise:
            return None
        with self._lock:
            return self.batches.setdefault(batch.id, batch)

    def save_batch(self, batch: Batch) -> None:
        """Keep the batch's progress (each item's answer and status, done)."""

    def of(self, enterprise: str) -> list[Batch]:
        return sorted((b for b in self.batches.values() if b.enterprise == enterprise), key=lambda b: b.created,
                      reverse=True)

    def unfinished(self) -> list[Batch]:
        """Batches whose submission has not ended (a restart interrupted it), oldest first."""
        return sorted((b for b in self.batches.values() if not b.done), key=lambda b: b.created)

    # -- hooks of a store that keeps them -------------------------------------------------------------
    def _stored_draft(self, draft: Draft) -> None:
        """A new draft."""

    def _stored_commit(self, draft: Draft, batch: Batch) -> None:
        """The batch made of the draft, and the draft gone (at once)."""

    def _load_draft(self, draft_id: str) -> Draft | None:
        return None

    def _load_batch(self, batch_id: str) -> Batch | None:
        return None
