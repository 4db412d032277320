"""Batched consumption: one poll of an intake or feedback partition is handled in ONE event store transaction.

The consumer hands each partition's share of a poll to :func:`batch_handler`'s handler. For an intake
topic it parses the commands, reads every stream they will need in one query, declares them one
after the other inside ``BatchingDeclarations.batch`` and commits their events with the tracking of
the last message. A feedback topic (``cbec.feedback.<service>.<kind>``) goes the same way: decode,
read the streams in one query, record each answer, commit once. If anything fails, the consumer redoes
the messages one at a time, each in its own transaction (``cbec.bus.delivery``), so a batch never
decides differently from its messages alone.

A batch needs one tracking source: each feedback partition has one producer (the signer, the customs
link or the saga), so its messages share one; a partition's poll that mixes sources (e.g. an oversized
sign request's failure from the service itself among the signer's outcomes) is handled one at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from cbec.bus.ports import BatchHandler, Message
from cbec.contracts.base import ContractError
from cbec.contracts.commands import CommandRejected, DeclareDocument, parse_declare
from cbec.declaration import clearance, feedback_handling
from cbec.declaration.application import DeclarationApp
from cbec.declaration.batching import BatchingDeclarations
from cbec.declaration.bus_glue import bus_handler, position_of
from cbec.declaration.dispatch import (
    dead_letter,
    declare_parsed,
    handlers,
    handling,
    intake_topics,
    sender_mismatch,
)
from cbec.declaration.ports import Position
from cbec.telemetry import consuming


def batch_handler(service: str, app: DeclarationApp, store: BatchingDeclarations, *,
                  shared_intake: bool = True) -> BatchHandler:
    """The consumer's batch handler for ``app`` (whose store must be ``store``): intake and feedback
    partitions in one transaction per batch, any other topic one message at a time. Without
    ``shared_intake`` only the tenants' own intake topics are handled (production)."""
    one_by_one = bus_handler(service, handlers(app, shared_intake=shared_intake))
    intake = intake_topics(app, shared=shared_intake)
    feedback = feedback_handling.feedback_kinds(app)

    def handle(messages: Sequence[Message]) -> None:
        positions = [position_of(service, m) for m in messages]
        topic = messages[0].topic if messages else ""
        batchable = topic in intake or topic in feedback
        if not batchable or len(messages) < 2 or len({p.source for p in positions}) > 1:
            for message in messages:
                one_by_one(message)
            return
        if topic in intake:
            code, bound = intake[topic]
            _intake_batch(app, store, code, bound, messages, positions)
        else:
            _feedback_batch(app, store, feedback[topic], messages, positions)

    return handle


def _intake_batch(app: DeclarationApp, store: BatchingDeclarations, code: str, bound: str | None,
                  messages: Sequence[Message], positions: Sequence[Position]) -> None:
    source = positions[0].source
    done = store.processed_up_to(source)
    work: list[tuple[Message, Position, DeclareDocument | CommandRejected]] = []
    streams: list[uuid.UUID] = []
    for message, position in zip(messages, positions, strict=True):
        if done is not None and position.offset <= done:
            continue  # a redelivery: handled alone, it would change nothing either
        try:
            command = parse_declare(message.value, default_doc_type=code, limits=app.limits)
        except CommandRejected as rejected:
            work.append((message, position, rejected))
            continue
        mismatch = sender_mismatch(command, message.topic, bound)
        if mismatch:
            work.append((message, position, CommandRejected(mismatch)))
            continue
        work.append((message, position, command))
        streams += streams_read_by(app, command)
    with store.batch(source, streams, done_up_to=done):
        for message, position, parsed in work:
            with consuming(message.topic, message.partition, message.offset, message.headers), handling(message):
                if isinstance(parsed, CommandRejected):
                    dead_letter(app, message.value, position, parsed.errors)
                else:
                    declare_parsed(app, message.value, parsed, position)


def _feedback_batch(app: DeclarationApp, store: BatchingDeclarations, kind: str,
                    messages: Sequence[Message], positions: Sequence[Position]) -> None:
    source = positions[0].source
    done = store.processed_up_to(source)
    work: list[tuple[Message, Position, feedback_handling.FeedbackMessage | ContractError]] = []
    streams: list[uuid.UUID] = []
    for message, position in zip(messages, positions, strict=True):
        if done is not None and position.offset <= done:
            continue  # a redelivery: handled alone, it would change nothing either
        try:
            parsed = feedback_handling.decode(kind, message.value)
        except ContractError as bad:
            work.append((message, position, bad))
            continue
        work.append((message, position, parsed))
        streams += feedback_handling.streams_read_by(app, parsed)
    with store.batch(source, streams, done_up_to=done):
        for message, position, answer in work:
            with consuming(message.topic, message.partition, message.offset, message.headers), handling(message):
                try:
                    if isinstance(answer, ContractError):
                        raise answer
                    feedback_handling.apply(app, answer, position)
                except ContractError as bad:
                    dead_letter(app, message.value, position, bad.errors)


def streams_read_by(app: DeclarationApp, command: DeclareDocument) -> list[uuid.UUID]:
    """The streams declaring ``command`` reads first: its document's and its clearance's (a best
    guess: a stream missed here is read when needed)."""
    policy = app.policies.get(command.doc_type)
    if policy is None:
        return []
    doc_type = policy.doc_type
    head = command.document.get(doc_type.head) if doc_type.head else command.document
    if not isinstance(head, dict):
        return []
    try:
        key = doc_type.business_key(command.document)
    except (KeyError, TypeError, ValueError):
        return []
    if not key or not all(key):
        return []
    streams = [doc_type.stream_id(key)]
    hint = policy.clearance_hint(command)
    if hint:
        streams.append(clearance.stream_id(hint))
    return streams
