"""The scenarios behind `cbec demo`: full clearances through the embedded stack, with a progress bar and a
status table.

``--scenario default`` declares order, payment, waybill and list of each clearance (9610 and 1210
alternate) plus one entry list of the 9610 waybills, all at once: the saga releases each document
when its prerequisites are declared. ``--scenario faults`` shows what goes wrong and how it is
put right: a rejected order corrected, a list inspected, lost receipts recovered by a resend, a
cancel and a return allowed, a cancel and a return refused.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cbec.contracts.commands import DeclareDocument
from cbec.declaration.doctypes import BY_CODE
from cbec.declaration.views import status_view
from cbec.settings import SagaSettings, Settings
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cbec_testkit.customs.simulator import SimulatorConfig, dropped_files
from cbec_testkit.embedded import EmbeddedStack, embedded_settings
from cbec_testkit.samples import (
    DECLARANT,
    SITE_OPERATOR,
    cancel_document,
    declare_clearance,
    entry_document,
    return_document,
)

RELEASED = 800


@dataclass
class Clearance:
    """One clearance of the demo: its documents as declared."""

    key: str
    trade_mode: str
    documents: dict[str, DeclareDocument] = field(default_factory=dict)
    expect: str = "released"  # what the scenario expects to see at the end

    def business_key(self, code: str) -> tuple[str, ...]:
        return BY_CODE[code].business_key(self.documents[code].document)


def _clearances(count: int, start: int = 1) -> list[Clearance]:
    out = []
    for n in range(start, start + count):
        mode = "9610" if n % 2 else "1210"
        commands = declare_clearance(n, trade_mode=mode)
        head = commands[0].document["OrderHead"]
        out.append(Clearance(f"{head['ebpCode']}:{head['orderNo']}", mode, {c.doc_type: c for c in commands}))
    return out


def _entry(clearances: list[Clearance]) -> DeclareDocument | None:
    waybills = [c.documents["CEB511"].document for c in clearances if c.trade_mode == "9610"]
    if not waybills:
        return None
    return DeclareDocument("cmd-entry-1", SITE_OPERATOR, "CEB711", entry_document(waybills, "E20261124000001"))


class Demo:
    """Drives a scenario: submits documents, reacts to what happened, knows when it is done."""

    def __init__(self, stack: EmbeddedStack, clearances: list[Clearance]) -> None:
        self.stack = stack
        self.clearances = clearances
        self.entry: DeclareDocument | None = None
        self.reactions: list[tuple[Callable[[], bool], Callable[[], None]]] = []

    def status(self, clearance: Clearance, code: str) -> int | None:
        command = clearance.documents.get(code)
        if command is None:
            return None
        state = self.stack.declaration(code, BY_CODE[code].business_key(command.document))
        return state.status_code if state else None

    def phase(self, clearance: Clearance, code: str) -> str:
        command = clearance.documents.get(code)
        state = self.stack.declaration(code, BY_CODE[code].business_key(command.document)) if command else None
        return state.phase if state else "missing"

    def finished(self, clearance: Clearance) -> bool:
        if clearance.expect == "released":
            return self.status(clearance, "CEB621") == RELEASED
        code = {"cancelled": "CEB623", "returned": "CEB625"}.get(clearance.expect)
        if code is not None:
            return (self.status(clearance, code) or 0) >= 399
        code = {"cancel refused": "CEB623", "return refused": "CEB625"}[clearance.expect]
        return self.phase(clearance, code) == "refused"

    def taxed(self) -> bool:
        """Whether every list customs released has its tax bill (CEB816, a moment after the 800)."""
        for clearance in self.clearances:
            if "CEB621" not in clearance.documents or self.status(clearance, "CEB621") != RELEASED:
                continue
            document = clearance.documents["CEB621"].document
            state = self.stack.declaration("CEB621", BY_CODE["CEB621"].business_key(document))
            if state is None or not state.tax_bills:
                return False
        return True

    def entry_done(self) -> bool:
        if self.entry is None:
            return True
        state = self.stack.declaration("CEB711", BY_CODE["CEB711"].business_key(self.entry.document))
        return state is not None and state.status_code is not None and state.status_code >= 120

    def react(self) -> None:
        for i, (when, then) in enumerate(list(self.reactions)):
            if when():
                then()
                self.reactions.remove((when, then))
                del i


def _default(stack: EmbeddedStack, count: int) -> Demo:
    demo = Demo(stack, _clearances(count))
    for clearance in demo.clearances:
        for command in clearance.documents.values():
            stack.submit(command)
    demo.entry = _entry(demo.clearances)
    if demo.entry is not None:
        stack.submit(demo.entry)
    return demo


def _faults(stack: EmbeddedStack, clearances: list[Clearance]) -> Demo:
    """Seven clearances, each with its own trouble (see the module docstring)."""
    demo = Demo(stack, clearances)
    rejected, inspected, lost, cancelled, returned, refused, too_late = clearances[:7]
    cancelled.expect, returned.expect, refused.expect = "cancelled", "returned", "return refused"
    too_late.expect = "cancel refused"
    for clearance in clearances:
        for command in clearance.documents.values():
            stack.submit(command)

    def correct() -> None:
        fixed = copy.deepcopy(rejected.documents["CEB311"])
        head = fixed.document["OrderHead"]
        head.update(appType="2", note="更正后重新申报")
        rejected.documents["CEB311"] = DeclareDocument(fixed.command_id + "-corrected", fixed.sender,
                                                       fixed.doc_type, fixed.document)
        stack.submit(rejected.documents["CEB311"])

    def after_list(clearance: Clearance, code: str, goods_left: bool) -> Callable[[], None]:
        def declare() -> None:
            inventory = clearance.documents["CEB621"].document
            invt_no = stack.simulator.records[("CEB621", clearance.business_key("CEB621"))].invt_no
            document = cancel_document(inventory, invt_no) if code == "CEB623" else return_document(inventory,
                                                                                                   invt_no)
            if goods_left:
                stack.goods_left(clearance.key)
                stack.step()
            clearance.documents[code] = DeclareDocument(f"cmd-{code}-{clearance.key}", DECLARANT, code, document)
            stack.submit(clearance.documents[code])

        return declare

    demo.reactions = [
        (lambda: demo.status(rejected, "CEB311") == 100, correct),
        (lambda: demo.status(cancelled, "CEB621") == RELEASED, after_list(cancelled, "CEB623", False)),
        (lambda: demo.status(returned, "CEB621") == RELEASED, after_list(returned, "CEB625", True)),
        (lambda: demo.status(refused, "CEB621") == RELEASED, after_list(refused, "CEB625", False)),
        (lambda: demo.status(too_late, "CEB621") == RELEASED, after_list(too_late, "CEB623", True)),
    ]
    del inspected, lost
    return demo


def faults_config(clearances: list[Clearance]) -> SimulatorConfig:
    order_no = [c.key.split(":", 1)[1] for c in clearances]
    return SimulatorConfig(faults={("CEB311", order_no[0]): "reject", ("CEB621", order_no[1]): "inspect",
                                   ("CEB311", order_no[2]): "lose", ("CEB411", order_no[2]): "lose"})


def run_demo(orders: int, out: Path | None, timeout: float, console: Console,
             scenario: str = "default", settings: Settings | None = None, flow: str = "import") -> dict[str, Any]:
    """Run ``orders`` clearances (at least seven for ``faults``) to release and report each one; the
    demo is development whatever ``settings`` say (``CBEC_ENV`` is ignored here). ``flow="export"``: the
    export chain instead (:mod:`cbec_testkit.export_demo`)."""
    settings = settings or Settings()
    state_dir = Path(tempfile.mkdtemp(prefix="cbec-demo-"))
    dxp_dir = out if out is not None else state_dir / "dxp"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    if flow == "export":
        return _run_export(orders, out, timeout, console, scenario, settings, state_dir, dxp_dir)
    if scenario == "faults":
        clearances = _clearances(max(orders, 7))
        quick_resends = SagaSettings(gate=settings.saga.gate, receipt_timeout=1.0, max_resends=3)
        stack = EmbeddedStack(workdir=state_dir / "state", dxp_dir=dxp_dir,
                              simulator_config=faults_config(clearances),
                              settings=embedded_settings(settings.model_copy(update={"saga": quick_resends})))
        demo = _faults(stack, clearances)
    else:
        stack = EmbeddedStack(workdir=state_dir / "state", dxp_dir=dxp_dir, settings=embedded_settings(settings))
        demo = _default(stack, orders)
    started = time.monotonic()
    try:
        deadline = started + timeout
        with Progress(TextColumn("[bold]clearing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            task = progress.add_task("clearances", total=len(demo.clearances))
            while True:
                work = stack.step()
                demo.react()
                finished = sum(1 for c in demo.clearances if demo.finished(c))
                progress.update(task, completed=finished)
                done = finished == len(demo.clearances) and demo.entry_done() and demo.taxed()
                if done or time.monotonic() > deadline:
                    break
                if not work:
                    time.sleep(0.02)
        summary = _summary(demo, scenario, time.monotonic() - started)
    finally:
        stack.close()
    if out is not None:
        (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    shutil.rmtree(state_dir, ignore_errors=True)
    return summary


def _run_export(orders: int, out: Path | None, timeout: float, console: Console, scenario: str,
                settings: Settings, state_dir: Path, dxp_dir: Path) -> dict[str, Any]:
    from cbec_testkit.export_demo import ExportDemo, cases
    from cbec_testkit.tenants import export_demo_registry

    # 9610 lists wait for their 收款单 here (CBEC_SAGA_EXPORT_COLLECTION), as some regions require
    saga_settings = settings.saga.model_copy(update={"export_collection": settings.saga.export_collection or "9610"})
    stack = EmbeddedStack(workdir=state_dir / "state", dxp_dir=dxp_dir, tenants=export_demo_registry(),
                          settings=embedded_settings(settings.model_copy(update={"saga": saga_settings})))
    demo = ExportDemo(stack, cases(orders, scenario))
    started = time.monotonic()
    try:
        demo.start()
        deadline = started + timeout
        with Progress(TextColumn("[bold]exporting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            task = progress.add_task("clearances", total=len(demo.clearances))
            while True:
                work = stack.step()
                demo.react()
                finished = sum(1 for c in demo.clearances if demo.finished(c))
                progress.update(task, completed=finished)
                if finished == len(demo.clearances) or time.monotonic() > deadline:
                    break
                if not work:
                    time.sleep(0.02)
        report = demo.summary()
        counts = Counter(c["documents"]["export-inventory"].get("status", "missing") for c in report["clearances"]
                         if "export-inventory" in c["documents"])
        summary = {"scenario": scenario, "flow": "export", "seconds": round(time.monotonic() - started, 2),
                   **report, "entry": None, "statusCounts": dict(counts),
                   "transmitted": len(dropped_files(stack.link.outbox)),
                   "receipts": len(stack.link.archived()) + len(stack.link.receipts()),
                   "sent": [list(a) for a in stack.simulator.arrivals]}  # in the order customs got them
    finally:
        stack.close()
    if out is not None:
        (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    shutil.rmtree(state_dir, ignore_errors=True)
    return summary


def _summary(demo: Demo, scenario: str, seconds: float) -> dict[str, Any]:
    stack = demo.stack
    clearances = []
    for c in demo.clearances:
        documents: dict[str, Any] = {}
        for code, command in c.documents.items():
            state = stack.declaration(code, BY_CODE[code].business_key(command.document))
            documents[BY_CODE[code].kind] = status_view(state) if state else {"status": "missing"}
        saga = stack.saga.view(c.key)
        clearances.append({"clearanceKey": c.key, "tradeMode": c.trade_mode, "expected": c.expect,
                           "finished": demo.finished(c), "documents": documents,
                           "saga": {k: d["status"] for k, d in saga["documents"].items()},
                           "waiting": {k: d["waitingFor"] for k, d in saga["documents"].items() if d["waitingFor"]},
                           "resends": {k: d["resends"] for k, d in saga["documents"].items() if d["resends"]},
                           "alerts": saga["alerts"]})
    entry = None
    if demo.entry is not None:
        state = stack.declaration("CEB711", BY_CODE["CEB711"].business_key(demo.entry.document))
        entry = status_view(state) if state else {"status": "missing"}
    counts = Counter(c["documents"]["inventory"].get("status", "missing") for c in clearances)
    return {
        "scenario": scenario,
        "seconds": round(seconds, 2),
        "clearances": clearances,
        "entry": entry,
        "statusCounts": dict(counts),
        "transmitted": len(dropped_files(stack.link.outbox)),
        "receipts": len(stack.link.archived()) + len(stack.link.receipts()),
    }


def _cell(doc: dict[str, Any]) -> str:
    """A document's state in a few characters: its current receipt code, else its phase."""
    if not doc:
        return ""
    code = doc.get("statusCode")
    return str(code) if code is not None else str(doc.get("phase", ""))


def table(summary: dict[str, Any]) -> Table:
    if summary.get("flow") == "export":
        return export_table(summary)
    table = Table(title=f"cbec demo ({summary['scenario']}): clearances",
                  caption="customs receipt codes: 2 declaring, 120 accepted, 399 concluded, 500 inspection, "
                          "800 released, 100 rejected")
    table.add_column("clearance", no_wrap=True)
    for column in ("mode", "order", "payment", "waybill", "list"):
        table.add_column(column, no_wrap=True)
    table.add_column("list receipts", overflow="fold")
    table.add_column("note", overflow="fold")
    for c in summary["clearances"]:
        docs = c["documents"]
        inventory = docs.get("inventory", {})
        history = "→".join(str(r["returnStatus"]) for r in inventory.get("receipts", []))
        notes = [f"{k}: refused ({docs[k]['errors'][0]['code']})" if docs[k].get("phase") == "refused"
                 and docs[k].get("errors") else f"{k}: {docs[k]['status']}" for k in ("cancel", "return") if k in docs]
        notes += [f"{k} resent ×{n}" for k, n in c["resends"].items()]
        if len(docs.get("order", {}).get("receipts", [])) > 2:
            notes.append("order corrected")
        table.add_row(c["clearanceKey"], c["tradeMode"], *(_cell(docs.get(k, {})) for k in
                      ("order", "payment", "waybill", "inventory")), history, "; ".join(notes))
    return table


def export_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"cbec demo export ({summary['scenario']}): clearances",
                  caption="receipt codes: 2 declaring, 120 accepted, 399 concluded, 800 released")
    for column in ("clearance", "mode", "order", "收款单", "waybill", "list", "reached", "note"):
        table.add_column(column, no_wrap=column not in ("milestones", "note"), overflow="fold")
    for c in summary["clearances"]:
        docs = c["documents"]
        notes = [f"{k}: refused ({docs[k]['errors'][0]['code']})" if docs[k].get("phase") == "refused"
                 and docs[k].get("errors") else f"{k}: {docs[k].get('status')}"
                 for k in ("export-cancel", "export-return", "return-tally") if k in docs]
        table.add_row(c["clearanceKey"], c.get("strategy") or c["tradeMode"], *(_cell(docs.get(k, {})) for k in
                      ("export-order", "collection", "export-waybill", "export-inventory")),
                      next(reversed(c["export"].get("milestones", {})), ""), "; ".join(notes))
    return table
