"""From bus messages to DeclarationApp calls: one table per owning service."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from cbec.contracts.commands import INTAKE_TOPICS, CommandRejected, DeclareDocument, parse_declare
from cbec.contracts.customs import RECEIPTS_TOPIC, TRANSMISSIONS_TOPIC, DocumentTransmitted, ReceiptReceived
from cbec.declaration import saga_commands
from cbec.declaration.application import DeclarationApp
from cbec.declaration.doctypes import STREAM_NAMESPACE
from cbec.declaration.ports import AlreadyProcessed, Position, VersionConflict
from cbec.declaration.routing import SIGN_RESULTS_TOPIC
from cbec.declaration.statuses import FORMAT_ERROR
from cbec.errors import CebError

log = logging.getLogger(__name__)

DEAD_LETTERED = "CommandDeadLettered"

Handler = Callable[[bytes, Position], None]


def dead_letter(app: DeclarationApp, raw: bytes, position: Position, errors: list[CebError]) -> None:
    """Keep an unreadable command with its errors; the outbox takes it to cbec.dlq.<service>."""
    stream_id = uuid.uuid5(STREAM_NAMESPACE, f"dlq:{position.source}:{position.offset}")
    event = (
        DEAD_LETTERED,
        {
            "source": position.source,
            "offset": position.offset,
            "errors": [e.to_dict() for e in errors],
            "command": raw.decode("utf-8", "replace")[:100_000],
        },
    )
    try:
        app.store.append(stream_id, 0, [event], position)
    except (AlreadyProcessed, VersionConflict):
        pass


def handlers(app: DeclarationApp) -> dict[str, Handler]:
    """Topic → handler for the intake topics of the app's document types and the shared feedback topics."""
    table: dict[str, Handler] = {}
    for topic, code in INTAKE_TOPICS.items():
        if code in app.doc_types:
            table[topic] = _intake(app, code)

    def on_sign_result(raw: bytes, position: Position) -> None:
        result: dict[str, Any] = json.loads(raw)
        if str(result.get("doc_type")) in app.doc_types:
            app.record_signed(
                str(result["request_id"]), bool(result.get("ok")), result.get("error"), position
            )

    def on_transmitted(raw: bytes, position: Position) -> None:
        sent = DocumentTransmitted.from_json(raw)
        if sent.doc_type in app.doc_types:
            app.record_sent(sent, position)

    def on_receipt(raw: bytes, position: Position) -> None:
        receipt = ReceiptReceived.from_json(raw)
        format_error = receipt.receipt_type == FORMAT_ERROR and receipt.doc_type in app.doc_types
        if receipt.receipt_type in app.by_receipt or format_error:
            app.record_receipt(receipt, position)

    table[SIGN_RESULTS_TOPIC] = on_sign_result
    table[TRANSMISSIONS_TOPIC] = on_transmitted
    table[RECEIPTS_TOPIC] = on_receipt
    table[saga_commands.SAGA_COMMANDS_TOPIC] = _saga(app)
    return table


def _saga(app: DeclarationApp) -> Handler:
    """ReleaseDocument / ResendDocument / RefuseDocument for the app's types; LockClearance where it
    owns an order, payment or waybill. Unreadable commands are dead-lettered."""
    locks = app.locks_clearances

    def handle(raw: bytes, position: Position) -> None:
        try:
            command = saga_commands.parse(raw)
        except CommandRejected as rejected:
            dead_letter(app, raw, position, rejected.errors)
            return
        if command.command == saga_commands.LOCK:
            if locks:
                app.lock_clearance(command.clearance_key, position)
            return
        if command.doc_type not in app.doc_types:
            return
        if command.command == saga_commands.RELEASE:
            done = app.release(command.doc_type, command.business_key, position)
        elif command.command == saga_commands.RESEND:
            done = app.resend(command.doc_type, command.business_key, position)
        else:
            done = app.refuse_document(command.doc_type, command.business_key, command.errors, position)
        log.info("saga %s %s %s: %s", command.command, command.doc_type, command.command_id,
                 "done" if done else "nothing to do")

    return handle


def _intake(app: DeclarationApp, code: str) -> Handler:
    def handle(raw: bytes, position: Position) -> None:
        try:
            command = parse_declare(raw, default_doc_type=code)
        except CommandRejected as rejected:
            dead_letter(app, raw, position, rejected.errors)
            return
        declare_parsed(app, raw, command, position)

    return handle


def declare_parsed(app: DeclarationApp, raw: bytes, command: DeclareDocument, position: Position) -> None:
    """Declare a command read from ``raw``; one refused before it has a stream is dead-lettered."""
    outcome = app.declare(command, position)
    if outcome.result == "refused" and outcome.stream_id is None:
        dead_letter(app, raw, Position(position.source + "#refused", position.offset), outcome.errors)
    log.info("command %s: %s", command.command_id, outcome.result)
