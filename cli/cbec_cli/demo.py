"""`cbec demo`: clearances through the embedded stack, with a progress bar and a status table."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from cbec.declaration.doctypes import ORDER
from cbec.declaration.views import status_view
from cbec.sample_orders import declare_orders
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cbec_cli.embedded import EmbeddedStack

DONE_STATUSES = frozenset({120})


def run_demo(orders: int, out: Path | None, timeout: float, console: Console) -> dict[str, Any]:
    """Declare ``orders`` generated orders and drive them to customs' final receipt."""
    state_dir = Path(tempfile.mkdtemp(prefix="cbec-demo-"))
    dxp_dir = out if out is not None else state_dir / "dxp"
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    stack = EmbeddedStack(workdir=state_dir / "state", dxp_dir=dxp_dir)
    commands = declare_orders(orders)
    keys = [ORDER.business_key(c.document) for c in commands]
    try:
        for command in commands:
            stack.submit(command)
        deadline = time.monotonic() + timeout
        with Progress(TextColumn("[bold]clearing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            task = progress.add_task("orders", total=len(keys))
            while True:
                stack.step()
                states = [stack.declaration("CEB311", k) for k in keys]
                finished = sum(1 for s in states if s and (s.status_code in DONE_STATUSES or s.phase == "refused"
                                                           or (s.status_code or 0) < 0))
                progress.update(task, completed=finished)
                if finished == len(keys) or time.monotonic() > deadline:
                    break
        summary = _summary(stack, keys)
    finally:
        stack.close()
    if out is not None:
        (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    shutil.rmtree(state_dir, ignore_errors=True)
    return summary


def _summary(stack: EmbeddedStack, keys: list[tuple[str, ...]]) -> dict[str, Any]:
    clearances: list[dict[str, Any]] = []
    for key in keys:
        state = stack.declaration("CEB311", key)
        clearances.append({
            "clearanceKey": ":".join(key),
            "documents": {"order": status_view(state) if state else {"status": "missing"}},
        })
    counts = Counter(c["documents"]["order"]["status"] for c in clearances)
    return {
        "clearances": clearances,
        "statusCounts": dict(counts),
        "transmitted": len(list(stack.link.outbox.glob("*.xml"))),
        "receipts": len(list(stack.link.inbox.glob("*.xml"))),
    }


def _table(summary: dict[str, Any]) -> Table:
    table = Table(title="cbec demo: clearances")
    for column in ("clearance", "order", "receipts"):
        table.add_column(column)
    for c in summary["clearances"]:
        order = c["documents"]["order"]
        history = " → ".join(str(r["returnStatus"]) for r in order.get("receipts", []))
        table.add_row(c["clearanceKey"], order["status"], history)
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        orders: Annotated[int, typer.Option(help="How many generated orders to declare.")] = 20,
        out: Annotated[Path | None, typer.Option(help="Write outbox/, inbox/ and summary.json here.")] = None,
        timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 120.0,
    ) -> None:
        """Run clearances end to end on the embedded stack (SQLite, in-process bus, simulator)."""
        console = Console()
        summary = run_demo(orders, out, timeout, console)
        console.print(_table(summary))
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(summary["statusCounts"].items()))
        console.print(f"[bold]{len(summary['clearances'])} clearances[/] — {counts}; "
                      f"{summary['transmitted']} messages sent, {summary['receipts']} receipts received")
        if out is not None:
            console.print(f"files in {out}/outbox, {out}/inbox; summary in {out}/summary.json")
        if any(c["documents"]["order"].get("statusCode") != 120 for c in summary["clearances"]):
            raise typer.Exit(1)
