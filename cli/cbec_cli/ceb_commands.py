"""`cbec validate`, `cbec parse`, `cbec build`: the CEB message core from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from cbec.ceb.codec import build, parse
from cbec.ceb.dxp import ENVELOPE_TAGS, unwrap_element
from cbec.ceb.jsonio import from_jsonable, to_jsonable
from cbec.ceb.model import CebMessage
from cbec.ceb.rules import RelatedDocs, validate_business
from cbec.ceb.safe_xml import parse_xml
from cbec.ceb.structure import validate_structure
from cbec.ceb.xsd import built_findings, needs_signature, xsd_findings
from cbec.errors import CebError, CebValidationError
from lxml import etree

_XSD_FILES = {"import": "ceb-import.xsd", "export": "ceb-export.xsd"}
# Parse findings a lenient parse cannot repair (a missing element stays missing, an excess stays):
# errors in both modes. The others (undeclared, duplicated, out-of-order elements, a near-miss root
# or namespace) are repaired leniently and reported as warnings.
_UNREPAIRED = frozenset({"CBEC-REQUIRED", "CBEC-COUNT"})


def business_bytes(raw: bytes) -> bytes:
    """The CEB business XML of a file: itself, or the Data of a DxpMsg / DxpMsgSv envelope."""
    root = parse_xml(raw)
    return unwrap_element(root).data if root.tag in ENVELOPE_TAGS else raw


def _xsd_findings(xml: bytes, msg: CebMessage, xsd_dir: Path) -> list[CebError]:
    from cbec.ceb.compiled import root_for

    kind = root_for(msg.type).kind
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return xsd_findings(xml, etree.XMLSchema(etree.parse(str(xsd_dir / _XSD_FILES[kind]), parser)))


def _new(found: list[CebError], reported: list[CebError]) -> list[CebError]:
    """``found`` without what the parse already reported: the same finding, or any finding on an
    element the parse reported missing (a missing ``@guid`` is not also "0 characters long")."""
    same = {(e.code, e.path) for e in reported}
    missing = {e.path for e in reported if e.code == "CBEC-REQUIRED"}
    return [e for e in found if (e.code, e.path) not in same and e.path not in missing]


def check(msg: CebMessage, related: RelatedDocs, *, lenient: bool) -> tuple[list[CebError], list[CebError]]:
    """(errors, warnings) of a leniently parsed message: every structural problem at once (the parse's
    and the model's, each once), then, when there are none, the business rules."""
    read = msg.warnings
    warnings = [w for w in read if w.code not in _UNREPAIRED] if lenient else []
    errors = [w for w in read if w.code in _UNREPAIRED] if lenient else list(read)
    errors += _new(validate_structure(msg), read)
    if not errors:
        errors = validate_business(msg, related)
    return errors, warnings


def validate_files(files: list[Path], xsd_dir: Path | None = None, *, lenient: bool = False) -> list[str]:
    """One line per finding (``FILE: <doc>.<field>: <message> [<code>]``); empty when all are valid.

    Strict (the default) reports every structural problem of a file in one run: what the parse
    refuses, what the model lacks (a mandatory signature included), each once. ``lenient`` turns
    what the parse could repair into warnings (lines ending ``(lenient)``). The files are also each
    other's related documents, so cross-document rules (order vs payment, waybill, list) apply to a
    set given together.
    """
    lines: list[str] = []
    parsed: list[tuple[Path, bytes, CebMessage]] = []
    for path in files:
        try:
            xml = business_bytes(path.read_bytes())
            msg = parse(xml, strict=False)  # strictness is applied to the findings below
        except OSError as exc:
            lines.append(f"{path}: /: cannot read: {exc.strerror} [CBEC-IO]")
            continue
        except CebValidationError as exc:
            lines += [f"{path}: {e}" for e in exc.errors]
            continue
        parsed.append((path, xml, msg))
    related = RelatedDocs.of(*(m for _, _, m in parsed))
    for path, xml, msg in parsed:
        errors, warnings = check(msg, related, lenient=lenient)
        lines += [f"{path}: {w} (lenient)" for w in warnings]
        if xsd_dir is not None:
            errors += _xsd_findings(xml, msg, xsd_dir)
        lines += [f"{path}: {e}" for e in errors]
    return lines


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""

    @app.command("validate")
    def validate_cmd(
        files: Annotated[list[Path], typer.Argument(help="CEB XML files (bare, DxpMsg- or DxpMsgSv-wrapped).")],
        xsd: Annotated[
            Path | None, typer.Option("--xsd", help="Also check against the official XSDs in this folder.")
        ] = None,
        lenient: Annotated[
            bool, typer.Option(help="Repair what can be repaired (reported as warnings) instead of refusing.")
        ] = False,
    ) -> None:
        """Validate messages: structure, business rules (files given together are related documents)."""
        lines = validate_files(files, xsd, lenient=lenient)
        for line in lines:
            typer.echo(line)
        if any(not line.endswith("(lenient)") for line in lines):
            raise typer.Exit(1)

    @app.command("parse")
    def parse_cmd(
        file: Annotated[Path, typer.Argument(help="A CEB XML file (bare, DxpMsg- or DxpMsgSv-wrapped).")],
        lenient: Annotated[
            bool, typer.Option(help="Repair what can be repaired instead of refusing; every repair on stderr.")
        ] = False,
    ) -> None:
        """Print a message as JSON."""
        try:
            msg = parse(business_bytes(file.read_bytes()), strict=not lenient)
        except CebValidationError as exc:
            for e in exc.errors:
                typer.echo(f"{file}: {e}", err=True)
            raise typer.Exit(1) from None
        for w in msg.warnings:  # what lenient mode repaired or could not place: never silent
            typer.echo(f"{file}: {w} (lenient)", err=True)
        typer.echo(json.dumps(to_jsonable(msg), ensure_ascii=False, indent=2))

    @app.command("build")
    def build_cmd(
        msg_type: Annotated[str, typer.Argument(metavar="TYPE", help="CEB311, CEB621Message, …")],
    ) -> None:
        """Read a message as JSON on stdin (the `parse` format) and write its XML to stdout.

        Exits 1, writing nothing, when the XML would fail the official XSD (findings on stderr). An
        unsigned CEB621/623/625/711 is written for the signer, with a note that it still needs ds:Signature.
        """
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
        findings = built_findings(msg)
        if findings:  # nothing is written that the official XSD refuses
            for e in findings:
                typer.echo(f"stdin: {e}", err=True)
            raise typer.Exit(1)
        if needs_signature(msg):
            typer.echo(f"stdin: note: {msg.type} needs ds:Signature before it is sent: sign it first", err=True)
        sys.stdout.buffer.write(xml)
        sys.stdout.buffer.flush()
