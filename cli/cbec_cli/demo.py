"""`cbec demo`: full clearances through the embedded stack (the test kit's scenarios, imported lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cbec.logging_setup import configure_logging
from cbec.settings import Settings
from rich.console import Console


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        orders: Annotated[int, typer.Option(help="How many clearances to declare.")] = 20,
        out: Annotated[Path | None, typer.Option(
            help="Write outbox/ (customs takes files to outbox/taken/<day>/), inbox/ (recorded receipts go to"
                 " inbox/archive/<day>/) and summary.json here.")] = None,
        timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 120.0,
        scenario: Annotated[str, typer.Option(help="default, or faults (rejection, inspection, lost receipts,"
                                                   " cancel and return).")] = "default",
        flow: Annotated[str, typer.Option(help="import (9610/1210), or export (9610, 9710 and 9810 through"
                                               " arrival, departure and a monthly summary).")] = "import",
    ) -> None:
        """Run full clearances on the embedded stack (SQLite, in-process bus, saga, simulator)."""
        if scenario not in ("default", "faults"):
            raise typer.BadParameter("scenario is default or faults")
        if flow not in ("import", "export"):
            raise typer.BadParameter("flow is import or export")
        from cbec_testkit.demo import run_demo, table  # the test kit: installed for development only

        settings = Settings()  # the one read of the environment in this process
        configure_logging(settings.process.log_level or "WARNING")  # JSON, personal data masked
        console = Console()
        summary = run_demo(orders, out, timeout, console, scenario, settings, flow)
        console.print(table(summary))
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(summary["statusCounts"].items()))
        console.print(f"[bold]{len(summary['clearances'])} clearances[/] in {summary['seconds']} s — lists {counts};"
                      f" {summary['transmitted']} messages sent, {summary['receipts']} receipts received")
        if summary["entry"] is not None:
            console.print(f"entry list: {summary['entry']['status']}")
        if out is not None:
            console.print(f"files in {out}/outbox/taken, {out}/inbox/archive; summary in {out}/summary.json")
        if not all(c["finished"] for c in summary["clearances"]):
            raise typer.Exit(1)
