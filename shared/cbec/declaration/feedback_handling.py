"""An owning service's feedback topics: how each kind is read, which streams it reads, what it does.

The service reads only its own ``cbec.feedback.<service>.<kind>`` topics, so every message there is
about its own document types: the topic says which kind it is, and nothing is decoded to be dropped.
A message that breaks its contract raises ``ContractError`` (the caller dead-letters it).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TypeAlias

from cbec.contracts import saga, topics
from cbec.contracts.customs import DocumentTransmitted, ReceiptReceived
from cbec.contracts.signing import SignOutcome
from cbec.declaration import clearance
from cbec.declaration.application import DeclarationApp
from cbec.declaration.ports import Position
from cbec.declaration.statuses import FORMAT_ERROR
from cbec.store.handling import mark_handled

log = logging.getLogger(__name__)

FeedbackMessage: TypeAlias = SignOutcome | DocumentTransmitted | ReceiptReceived | saga.SagaCommand

DECODERS: dict[str, Callable[[bytes], FeedbackMessage]] = {
    topics.FEEDBACK_SIGNED: SignOutcome.from_json,
    topics.FEEDBACK_SENT: DocumentTransmitted.from_json,
    topics.FEEDBACK_RECEIPTS: ReceiptReceived.from_json,
    topics.FEEDBACK_COMMANDS: saga.SagaCommand.from_json,
}
"""Feedback kind → the reader of its messages."""


def feedback_kinds(app: DeclarationApp) -> dict[str, str]:
    """The feedback topics of the services owning the app's document types (one service's, but for
    tests that run several on one app) → their kind."""
    owners = dict.fromkeys(d.service for d in app.doc_types.values())
    return {topics.feedback(service, kind): kind for service in owners for kind in topics.FEEDBACK_KINDS}


def decode(kind: str, raw: bytes) -> FeedbackMessage:
    return DECODERS[kind](raw)


def apply(app: DeclarationApp, message: FeedbackMessage, position: Position) -> None:
    """Record what ``message`` tells the app (each answer once; see ``cbec.declaration.feedback``)."""
    if isinstance(message, SignOutcome):
        error = message.error.to_dict() if message.error is not None else None
        app.record_signed(message.request_id, message.ok, error, position)
    elif isinstance(message, DocumentTransmitted):
        app.record_sent(message, position)
    elif isinstance(message, ReceiptReceived):
        _receipt(app, message, position)
    else:
        _command(app, message, position)


def streams_read_by(app: DeclarationApp, message: FeedbackMessage) -> list[uuid.UUID]:
    """The stream handling ``message`` reads first (a best guess: a stream missed here is read when needed)."""
    if isinstance(message, SignOutcome | DocumentTransmitted):
        return _request_stream(app, message.request_id)
    if isinstance(message, ReceiptReceived):
        answered = app.by_receipt.get(message.receipt_type)
        if answered is not None:
            return [answered.stream_id(tuple(message.business_key))]
        result_of = app.by_result.get(message.receipt_type)
        if result_of is not None:
            key = tuple(message.business_key)
            return [result_of.doc_type.stream_id(key)] if len(key) == len(result_of.doc_type.key_fields) else []
        return _request_stream(app, message.node.get("requestId", ""))
    if message.command == saga.LOCK:
        return [clearance.stream_id(message.clearance_key)]
    doc_type = app.doc_types.get(message.doc_type)
    return [doc_type.stream_id(message.business_key)] if doc_type is not None else []


def _request_stream(app: DeclarationApp, request_id: str) -> list[uuid.UUID]:
    code, _, rest = request_id.partition(":")
    if code not in app.doc_types:
        return []
    try:
        return [uuid.UUID(rest.partition(":")[0])]
    except ValueError:
        return []


def _receipt(app: DeclarationApp, receipt: ReceiptReceived, position: Position) -> None:
    if receipt.receipt_type in app.by_receipt or receipt.receipt_type == FORMAT_ERROR and receipt.node.get("requestId"):
        app.record_receipt(receipt, position)
        return
    if receipt.receipt_type in app.by_result:  # customs' own message about a document (CEB792, CEB816, CEB818)
        app.record_result(receipt, position)
        return
    if receipt.receipt_type == FORMAT_ERROR:
        log.warning("format error %s answers no transmission the customs link knows (%s %s)",
                    receipt.receipt_id, receipt.doc_type, receipt.business_key)
    else:  # a customs message about a type whose policy records no such result
        log.info("receipt %s of type %s: nothing to record", receipt.receipt_id, receipt.receipt_type)
    mark_handled(app.store.record_position, position)


def _command(app: DeclarationApp, command: saga.SagaCommand, position: Position) -> None:
    """ReleaseDocument / ResendDocument / RefuseDocument for the app's types; LockClearance where it
    owns a type the lock applies to."""
    if command.command == saga.LOCK:
        if app.locks_clearances:
            app.lock_clearance(command.clearance_key, position)
        return
    if command.doc_type not in app.doc_types:
        log.warning("saga %s for %s, a type this service does not own", command.command, command.doc_type)
        return
    if command.command == saga.RELEASE:
        done = app.release(command.doc_type, command.business_key, position)
    elif command.command == saga.RESEND:
        done = app.resend(command.doc_type, command.business_key, position)
    else:
        done = app.refuse_document(command.doc_type, command.business_key, list(command.errors), position)
    log.info("saga %s %s %s: %s", command.command, command.doc_type, command.command_id,
             "done" if done else "nothing to do")
