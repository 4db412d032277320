"""`cbec summary compose`: the monthly 汇总申请单 (CEB701) of a consignor's released export lists.

Customs summarises export lists declared with ``statisticsFlag`` B (汇总申报) into customs declarations:
the enterprise declares a CEB701 naming the lists of a period, grouped by consignor (``summaryFlag`` 1,
the list's ``ebcCode``) or by consignor and producer (``summaryFlag`` 2, ``ebcCode`` + ``ownerCode``); its
``itemNameFlag`` 1 summarises by the enterprise's own item names (the spec's other value, empty for the
generic category name, fails the XSD, which requires one character: ceb-formats §3, so only 1 is built).

Composing is the sender's step, not the saga's: it reads the lists' contents (held by the inventory
service, never by the saga), and the enterprise chooses the period and grouping. The saga then holds the
declared CEB701 until every list in it is released, and closes the lists on the CEB792 result.

Input (``--lists``): a JSON array of released lists, each ``{"invtNo", "releasedAt" (yyyyMMddHHmmss…),
"document" (the CEB603 Inventory node)}``. Output: a JSON array of ``DeclareDocument`` bodies for CEB701.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

SUMMARY_FLAGS = {"1": "by consignor (ebcCode)", "2": "by consignor and producer (ebcCode + ownerCode)"}
MAX_LISTS = 1000  # lists per summary: a larger group is split into several summaries (msgSeqNo)


class ComposeError(ValueError):
    """An input the composer refuses, naming the field and the rule."""


@dataclass(frozen=True, slots=True)
class ReleasedList:
    invt_no: str
    released_at: str  # yyyyMMddHHmmss[SSS], China Standard Time
    document: dict[str, Any]

    @property
    def head(self) -> dict[str, Any]:
        head = self.document.get("InventoryHead")
        return head if isinstance(head, dict) else {}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> ReleasedList:
        if not isinstance(data, dict):
            raise ComposeError(f"{where}: a released list is an object with invtNo, releasedAt and document")
        invt_no, released, document = data.get("invtNo"), data.get("releasedAt"), data.get("document")
        if not isinstance(invt_no, str) or not invt_no:
            raise ComposeError(f"{where}.invtNo: the number customs gave the list (its CEB604) is required")
        if not isinstance(released, str) or len(released) < 14 or not released[:14].isdigit():
            raise ComposeError(f"{where}.releasedAt: the release time (yyyyMMddHHmmss) is required")
        if not isinstance(document, dict) or not isinstance(document.get("InventoryHead"), dict):
            raise ComposeError(f"{where}.document: the CEB603 Inventory node (InventoryHead …) is required")
        return cls(invt_no, released, document)


def compose(lists: Sequence[ReleasedList], *, ebc_code: str, start: str, end: str, cop_no: str,
            summary_flag: str = "1", item_name_flag: str = "1",
            decl_agent: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """The CEB701 documents (SummaryApply nodes) for seller ``ebc_code``'s summarisable lists released in
    ``[start, end]`` (yyyyMMddHHmmss): one per group of ``summary_flag``, each naming its lists once, in
    release order; ``cop_no`` numbers them (``<cop_no>``, ``<cop_no>-2`` …)."""
    if summary_flag not in SUMMARY_FLAGS:
        raise ComposeError(f"summaryFlag: 1 ({SUMMARY_FLAGS['1']}) or 2 ({SUMMARY_FLAGS['2']}), not {summary_flag!r}")
    if item_name_flag != "1":
        raise ComposeError("itemNameFlag: 1 (the enterprise's item names); the category-name value is empty,"
                           " which the XSD does not accept")
    if not (len(start) == len(end) == 14 and start.isdigit() and end.isdigit() and start <= end):
        raise ComposeError("startTime/endTime: a period yyyyMMddHHmmss … yyyyMMddHHmmss, start not after end")
    chosen = sorted((x for x in lists if x.head.get("ebcCode") == ebc_code and x.head.get("ieFlag", "E") == "E"
                     and x.head.get("statisticsFlag") == "B" and start <= x.released_at[:14] <= end),
                    key=lambda x: (x.released_at, x.invt_no))
    groups: dict[tuple[str, ...], list[ReleasedList]] = {}
    for item in chosen:
        key = (ebc_code,) if summary_flag == "1" else (ebc_code, str(item.head.get("ownerCode", "")))
        if all(x.invt_no != item.invt_no for x in groups.get(key, [])):
            groups.setdefault(key, []).append(item)
    out: list[dict[str, Any]] = []
    for members in groups.values():
        chunks = [members[i:i + MAX_LISTS] for i in range(0, len(members), MAX_LISTS)]
        for seq, chunk in enumerate(chunks, 1):
            first = chunk[0].head
            agent = (str(first.get("agentCode", "")), str(first.get("agentName", "")))
            number = cop_no if not out else f"{cop_no}-{len(out) + 1}"
            head = {
                # guid, appType, appTime and appStatus: the platform fills them at intake
                "customsCode": str(first.get("customsCode", "")), "copNo": number,
                "agentCode": agent[0], "agentName": agent[1], "ebcCode": ebc_code,
                "ebcName": str(first.get("ebcName", "")),
                "declAgentCode": (decl_agent or agent)[0], "declAgentName": (decl_agent or agent)[1],
                "startTime": start, "endTime": end, "summaryFlag": summary_flag, "itemNameFlag": item_name_flag,
                "msgCount": str(len(chunks)), "msgSeqNo": str(seq),
            }
            out.append({"SummaryApplyHead": head, "SummaryApplyList": [{"invtNo": x.invt_no} for x in chunk]})
    return out


def month_period(month: str) -> tuple[str, str]:
    """``2026-12`` → ("20261201000000", "20261231235959")."""
    import calendar

    try:
        year, mon = (int(p) for p in month.split("-"))
        last = calendar.monthrange(year, mon)[1]
    except ValueError:
        raise ComposeError(f"--month: yyyy-mm, not {month!r}") from None
    return f"{year:04d}{mon:02d}01000000", f"{year:04d}{mon:02d}{last:02d}235959"


def register(app: typer.Typer) -> None:
    summary_app = typer.Typer(help="Export summaries (汇总申请单 CEB701).", no_args_is_help=True)
    app.add_typer(summary_app, name="summary")

    @summary_app.command("compose")
    def compose_command(
        lists: Annotated[Path, typer.Option(help="JSON array of released lists: {invtNo, releasedAt, document}.")],
        ebc: Annotated[str, typer.Option(help="The consignor (ebcCode) whose lists are summarised.")],
        month: Annotated[str, typer.Option(help="The period, yyyy-mm (lists released in that month).")],
        cop_no: Annotated[str, typer.Option(help="The enterprise's number for the summary (copNo).")],
        sender: Annotated[str, typer.Option(help="The declaring enterprise sending the CEB701 (its code).")],
        summary_flag: Annotated[str, typer.Option(help="1 by consignor, 2 by consignor and producer.")] = "1",
        out: Annotated[Path | None, typer.Option(help="Write the DeclareDocument bodies here (default: stdout).")]
        = None,
    ) -> None:
        """Compose the CEB701 summaries of a consignor's released lists of one month."""
        try:
            raw = json.loads(lists.read_text(encoding="utf-8"))
            if not isinstance(raw, list):
                raise ComposeError("--lists: a JSON array of released lists")
            released = [ReleasedList.from_dict(x, f"lists[{i}]") for i, x in enumerate(raw)]
            start, end = month_period(month)
            documents = compose(released, ebc_code=ebc, start=start, end=end, cop_no=cop_no,
                                summary_flag=summary_flag)
        except (ComposeError, OSError, json.JSONDecodeError) as bad:
            typer.echo(f"error: {bad}", err=True)
            raise typer.Exit(2) from None
        bodies = [{"commandId": f"summary:{d['SummaryApplyHead']['copNo']}", "sender": sender, "docType": "CEB701",
                   "document": d} for d in documents]
        text = json.dumps(bodies, ensure_ascii=False, indent=1)
        if out is None:
            typer.echo(text)
        else:
            out.write_text(text + "\n", encoding="utf-8")
            typer.echo(f"{len(bodies)} summary document(s) of {sum(len(d['SummaryApplyList']) for d in documents)}"
                       f" list(s) in {out}")
