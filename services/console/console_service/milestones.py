"""An export clearance's milestones (``E:<ebcCode>:<orderNo>``): arrived (运抵单 CEB507), departed (离境单
CEB509), bound to the master bill (总分单 CEB607) and summarised (汇总申请单 CEB701), with the summary it
belongs to.

Those documents list the waybills or lists of many clearances; their owning service resolves the
clearances they name (``clearanceKeys``) when it takes them, and its read model indexes them. So each
milestone is one listing of the read API, with the enterprise's key: the documents of that type spanning
this clearance (``spansClearance``), newest first, only those the enterprise is a party to — exact, however
old the document. A type the enterprise may not read is shown as such, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from console_service.platform import Platform

STEPS = (("arrived", "CEB507"), ("departed", "CEB509"), ("bound", "CEB607"), ("summarised", "CEB701"))


@dataclass
class Milestone:
    name: str  # arrived | departed | bound | summarised
    doc_type: str
    visible: bool  # the enterprise may read this type
    key: list[str] = field(default_factory=list)  # the document that reached it (empty: not yet)
    status: str = ""
    status_code: int | None = None
    clearance_key: str = ""  # where that document's own page is

    @property
    def link(self) -> str:
        return "/clearances/" + quote(self.clearance_key, safe=":") if self.clearance_key else ""


def is_export(clearance_key: str) -> bool:
    return clearance_key.startswith("E:")


async def milestones(platform: Platform, enterprise: str, readable: list[str], clearance_key: str,
                     ) -> list[Milestone]:
    """Each milestone of the clearance: the newest document of its type naming the clearance."""
    out = []
    for name, doc_type in STEPS:
        step = Milestone(name, doc_type, doc_type in readable)
        out.append(step)
        if not step.visible:
            continue
        listing = await platform.listing(enterprise, doc_type, {"spansClearance": clearance_key[:200], "limit": "1"})
        items: list[dict[str, Any]] = listing.body.get("items", []) if listing.ok else []
        if items:
            row = items[0]
            step.key, step.status = [str(p) for p in row.get("businessKey", [])], str(row.get("status", ""))
            step.status_code = row.get("statusCode")
            step.clearance_key = str(row.get("clearanceKey", ""))
    return out
