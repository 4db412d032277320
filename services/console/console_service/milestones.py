"""An export clearance's milestones (``E:<ebcCode>:<orderNo>``): arrived (运抵单 CEB507), departed (离境单
CEB509), bound to the master bill (总分单 CEB607) and summarised (汇总申请单 CEB701), with the summary it
belongs to.

Those documents list the waybills or lists of many clearances, so the read model does not file them under
one clearance: they are found among the enterprise's own newest documents of each type (the read API,
with its key, so only documents it is a party to), by the clearance's waybill number (logisticsNo) and,
for the summary, by the list number (invtNo) the master bill pairs with that waybill. A type the
enterprise may not read is shown as such, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cbec.declaration.doctypes import BY_CODE

from console_service.platform import Platform

STEPS = (("arrived", "CEB507"), ("departed", "CEB509"), ("bound", "CEB607"), ("summarised", "CEB701"))
SCAN = 50  # the newest documents of a type looked at


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


def _lines(document: dict[str, Any], doc_type: str) -> list[dict[str, Any]]:
    lines = document.get(BY_CODE[doc_type].lines or "", [])
    return [x for x in lines if isinstance(x, dict)] if isinstance(lines, list) else []


def waybill_numbers(documents: list[dict[str, Any]]) -> set[str]:
    """The logisticsNo of the clearance's waybill and list (as the clearance page found them)."""
    out = set()
    for found in documents:
        document = found["view"].get("document") or {}
        spec = BY_CODE.get(found["row"]["docType"])
        if spec is None or spec.code not in ("CEB505", "CEB603"):
            continue
        head = document.get(spec.head) if spec.head else document
        if isinstance(head, dict) and head.get("logisticsNo"):
            out.add(str(head["logisticsNo"]))
    return out


async def milestones(platform: Platform, enterprise: str, readable: list[str],
                     documents: list[dict[str, Any]]) -> list[Milestone]:
    """Each milestone of the clearance whose documents (as the clearance page found them) are given."""
    waybills = waybill_numbers(documents)
    invt_nos: set[str] = set()
    out = []
    for name, doc_type in STEPS:
        step = Milestone(name, doc_type, doc_type in readable)
        out.append(step)
        if not step.visible or not waybills:
            continue
        listing = await platform.listing(enterprise, doc_type, {"limit": str(SCAN)})
        for row in listing.body.get("items", []) if listing.ok else []:
            detail = await platform.document(enterprise, doc_type, row["businessKey"])
            document = detail.body.get("document") if detail.ok else None
            if not isinstance(document, dict):
                continue
            lines = _lines(document, doc_type)
            if doc_type == "CEB701":
                hit = any(str(x.get("invtNo", "")) in invt_nos for x in lines)
            else:
                hit = any(str(x.get("logisticsNo", "")) in waybills for x in lines)
                if doc_type == "CEB607":
                    invt_nos |= {str(x["invtNo"]) for x in lines
                                 if str(x.get("logisticsNo", "")) in waybills and x.get("invtNo")}
            if hit:
                step.key, step.status = list(row["businessKey"]), str(detail.body.get("status", ""))
                step.status_code = detail.body.get("statusCode")
                step.clearance_key = str(detail.body.get("clearanceKey", ""))
                break
    return out
