"""`cbec validate`, `cbec parse`, `cbec build`: the CEB message core from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from cbec.ceb.codec import build, parse
from cbec.ceb.dxp import unwrap
from cbec.ceb.jsonio import from_jsonable, to_jsonable
from cbec.ceb.model import CebMessage
from cbec.ceb.rules import RelatedDocs, validate_business
from cbec.ceb.safe_xml import parse_xml
from cbec.ceb.structure import validate_structure
from cbec.errors import CebError, CebValidationError
from lxml import etree

DXP_TAG = "{http://www.chinaport.gov.cn/dxp}DxpMsg"
_XSD_FILES = {"import": "ceb-import.xsd", "export": "ceb-export.xsd"}


def business_bytes(raw: bytes) -> bytes:
    """The CEB business XML of a file: itself, or the Data of a DxpMsg envelope."""
    root = parse_xml(raw)
    return unwrap(raw).data if root.tag == DXP_TAG else raw


def _xsd_findings(xml: bytes, msg: CebMessage, xsd_dir: Path) -> list[CebError]:
    from cbec.ceb.compiled import root_for

    kind = root_for(msg.type).kind
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    schema = etree.XMLSchema(etree.parse(str(xsd_dir / _XSD_FILES[kind]), parser))
    if schema.validate(parse_xml(xml)):
        return []
    return [CebError("0002", f"XSD line {e.line}", "official XSD", e.message) for e in schema.error_log]  # type: ignore[attr-defined]


def validate_files(files: list[Path], xsd_dir: Path | None = None, *, lenient: bool = False) -> list[str]:
    """One line per finding (``FILE: <doc>.<field>: <message> [<code>]``); empty when all are valid.

    The files are also each other's related documents, so cross-document rules (order vs payment,
    waybill, list) apply to a set given together.
    """
    lines: list[str] = []
    parsed: list[tuple[Path, bytes, CebMessage]] = []
    for path in files:
        try:
            xml = business_bytes(path.read_bytes())
            msg = parse(xml, strict=not lenient)
        except OSError as exc:
            lines.append(f"{path}: /: cannot read: {exc.strerror} [CBEC-IO]")
            continue
        except CebValidationError as exc:
            lines += [f"{path}: {e}" for e in exc.errors]
            continue
        lines += [f"{path}: {w} (lenient)" for w in msg.warnings]
        parsed.append((path, xml, msg))
    related = RelatedDocs.of(*(m for _, _, m in parsed))
    for path, xml, msg in parsed:
        errors = validate_structure(msg)
        errors += validate_business(msg, related) if not errors else []
        if xsd_dir is not None:
            errors += _xsd_findings(xml, msg, xsd_dir)
        lines += [f"{path}: {e}" for e in errors]
    return lines


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""

    @app.command("validate")
    def validate_cmd(
        files: Annotated[list[Path], typer.Argument(help="CEB XML files (bare or DxpMsg-wrapped).")],
        xsd: Annotated[
            Path | None, typer.Option("--xsd", help="Also check against the official XSDs in this folder.")
        ] = None,
        lenient: Annotated[bool, typer.Option(help="Repair known sample defects instead of refusing.")] = False,
    ) -> None:
        """Validate messages: structure, business rules (files given together are related documents)."""
        lines = validate_files(files, xsd, lenient=lenient)
        for line in lines:
            typer.echo(line)
        if any(not line.endswith("(lenient)") for line in lines):
            raise typer.Exit(1)

    @app.command("parse")
    def parse_cmd(
        file: Annotated[Path, typer.Argument(help="A CEB XML file (bare or DxpMsg-wrapped).")],
        lenient: Annotated[bool, typer.Option(help="Repair known sample defects instead of refusing.")] = False,
    ) -> None:
        """Print a message as JSON."""
        try:
            msg = parse(business_bytes(file.read_bytes()), strict=not lenient)
        except CebValidationError as exc:
            for e in exc.errors:
                typer.echo(f"{file}: {e}", err=True)
            raise typer.Exit(1) from None
        typer.echo(json.dumps(to_jsonable(msg), ensure_ascii=False, indent=2))

    @app.command("build")
    def build_cmd(
        msg_type: Annotated[str, typer.Argument(metavar="TYPE", help="CEB311, CEB621Message, …")],
    ) -> None:
        """Read a message as JSON on stdin (the `parse` format) and write its XML to stdout."""
        try:
            msg = from_jsonable(json.loads(sys.stdin.read()), msg_type=msg_type)
            xml = build(msg)
        except json.JSONDecodeError as exc:
            typer.echo(f"stdin: /: not JSON: {exc} [CBEC-MODEL]", err=True)
            raise typer.Exit(1) from None
        except CebValidationError as exc:
            for e in exc.errors:
                typer.echo(f"stdin: {e}", err=True)
            raise typer.Exit(1) from None
        sys.stdout.buffer.write(xml)
        sys.stdout.buffer.flush()
