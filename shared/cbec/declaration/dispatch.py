"""From bus messages to DeclarationApp calls: one table per owning service."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace

from cbec.bus.poison import dead_letter_of, poison_letter
from cbec.bus.ports import Message
from cbec.contracts import topics
from cbec.contracts.base import ContractError
from cbec.contracts.commands import CommandRejected, DeclareDocument, parse_declare
from cbec.contracts.dead_letter import DEAD_LETTERED, DeadLetter
from cbec.declaration import feedback_handling
from cbec.declaration.application import DeclarationApp
from cbec.declaration.doctypes import STREAM_NAMESPACE
from cbec.declaration.ports import AlreadyProcessed, DeclarationStore, Position, VersionConflict
from cbec.errors import CebError

log = logging.getLogger(__name__)

Handler = Callable[[bytes, Position], None]

SENDER_NOT_TOPIC_TENANT = "CBEC-0403"  # as the HTTP intake's sender that is not the caller

_HANDLING: ContextVar[Message | None] = ContextVar("cbec_dispatch_message", default=None)


@contextmanager
def handling(message: Message) -> Iterator[None]:
    """Name the bus message being handled, so a dead letter keeps its headers and exact bytes."""
    token = _HANDLING.set(message)
    try:
        yield
    finally:
        _HANDLING.reset(token)


def dead_letter(app: DeclarationApp, raw: bytes, position: Position, errors: list[CebError]) -> None:
    """Keep an unreadable command with its errors; the outbox takes it to cbec.dlq.<service>."""
    stream_id = uuid.uuid5(STREAM_NAMESPACE, f"dlq:{position.source}:{position.offset}")
    message = _HANDLING.get()
    if message is not None and message.value == raw:
        letter = replace(dead_letter_of(message, errors, source=position.source), offset=position.offset)
    else:
        letter = DeadLetter.of(position.source, position.offset, errors, raw)
    try:
        app.store.append(stream_id, 0, [(DEAD_LETTERED, letter.to_dict())], position)
    except (AlreadyProcessed, VersionConflict):
        pass


def intake_topics(app: DeclarationApp, *, shared: bool = True) -> dict[str, tuple[str, str | None]]:
    """Intake topic → (document type, the sender it binds) for the app's document types: each registered
    tenant allowed to send a type has its own topic (``cbec.in.order.<code>``, the sender is the code);
    with ``shared`` also the shared topics, whose JSON ``sender`` nobody vouches for (development)."""
    table: dict[str, tuple[str, str | None]] = {}
    for topic, code in topics.INTAKE_TOPICS.items():
        policy = app.policies.get(code)
        if policy is None:
            continue
        if shared:
            table[topic] = (code, None)
        for tenant in app.tenants.all():
            if tenant.roles & policy.sender_roles:
                table[topics.tenant_intake(topic, tenant.customs_code)] = (code, tenant.customs_code)
    return table


def sender_mismatch(command: DeclareDocument, topic: str, bound: str | None) -> list[CebError]:
    """On a tenant's own intake topic the sender is the topic's tenant; a JSON ``sender`` naming any
    other enterprise is refused."""
    if bound is None or command.sender == bound:
        return []
    return [CebError(SENDER_NOT_TOPIC_TENANT, "sender", "tenancy",
                     f"sender {command.sender!r} is not the tenant of topic {topic} ({bound}):"
                     " a tenant declares only on its own intake topic")]


def poison_sink(store: DeclarationStore) -> Callable[[Message, BaseException], None]:
    """The consumer's dead letter: a message that could not be decoded or handled goes to the
    service's dead-letter topic (through the store and outbox), byte for byte with its reasons."""

    def sink(message: Message, error: BaseException) -> None:
        letter = poison_letter(message, error)
        stream_id = uuid.uuid5(STREAM_NAMESPACE, f"dlq:{message.topic}/{message.partition}@{message.offset}")
        try:
            store.append(stream_id, 0, [(DEAD_LETTERED, letter.to_dict())])
        except VersionConflict:
            pass  # dead-lettered before (a redelivery after a crash)

    return sink


def handlers(app: DeclarationApp, *, shared_intake: bool = True) -> dict[str, Handler]:
    """Topic → handler for the intake topics of the app's document types (see :func:`intake_topics`) and
    the service's own feedback topics (``cbec.feedback.<service>.<kind>``, see ``feedback_handling``).

    A feedback message that breaks its contract is dead-lettered like an unreadable command."""
    table: dict[str, Handler] = {}
    for topic, (code, bound) in intake_topics(app, shared=shared_intake).items():
        table[topic] = _intake(app, code, topic, bound)
    for topic, kind in feedback_handling.feedback_kinds(app).items():
        table[topic] = _feedback(app, kind)
    return table


def _feedback(app: DeclarationApp, kind: str) -> Handler:
    """One feedback message of ``kind``; one that breaks its contract is kept on the dead-letter topic."""

    def handle(raw: bytes, position: Position) -> None:
        try:
            feedback_handling.apply(app, feedback_handling.decode(kind, raw), position)
        except ContractError as bad:
            dead_letter(app, raw, position, bad.errors)

    return handle


def _intake(app: DeclarationApp, code: str, topic: str, bound: str | None) -> Handler:
    def handle(raw: bytes, position: Position) -> None:
        try:
            command = parse_declare(raw, default_doc_type=code, limits=app.limits)
        except CommandRejected as rejected:
            dead_letter(app, raw, position, rejected.errors)
            return
        mismatch = sender_mismatch(command, topic, bound)
        if mismatch:
            dead_letter(app, raw, position, mismatch)
            return
        declare_parsed(app, raw, command, position)

    return handle


def declare_parsed(app: DeclarationApp, raw: bytes, command: DeclareDocument, position: Position) -> None:
    """Declare a command read from ``raw``; one refused before it has a stream is dead-lettered."""
    outcome = app.declare(command, position)
    if outcome.result == "refused" and outcome.stream_id is None:
        dead_letter(app, raw, Position(position.source + "#refused", position.offset), outcome.errors)
    log.info("command %s: %s", command.command_id, outcome.result)
