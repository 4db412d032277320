"""The Kafka poison catalogue: records no consumer may choke on, and where each consumer dead-letters them.

Every entry is a raw record (key, value, headers) as any Kafka client can send it. The unit tests publish
the catalogue on the in-process bus (tests/unit/bus/test_poison_catalogue.py); the integration test on a
real broker (tests/integration/test_poison_kafka.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cbec.bus.ports import HandlerFailed
from cbec.contracts import topics
from cbec.contracts.dead_letter import DeadLetter
from cbec.declaration.doctypes import BY_CODE
from cbec.store.outbox import NOTIFICATION_HEADER, SOURCE_HEADER
from cbec_testkit.embedded import EmbeddedStack
from cbec_testkit.samples import declare_clearance

HUGE_CHARS = 900_000  # below the broker's default 1 MB, so it reaches the consumer


@dataclass(frozen=True)
class Poison:
    name: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    reads_headers_only: bool = False  # poison only to consumers that read the headers (not the signer)


def catalogue(valid: bytes = b"{}") -> list[Poison]:
    """The catalogue for one topic; ``valid`` is a readable message of that topic (for the entries whose
    only fault is a header or a lone surrogate)."""
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        Poison("null value", b"k", None),
        Poison("empty value", b"k", b""),
        Poison("bytes that are not UTF-8", b"k", b"\xff\xfe\x00\x81 not text"),
        Poison("invalid JSON", b"k", b'{"commandId": '),
        Poison("100k-deep JSON", b"k", deep),
        Poison("a lone surrogate escape", b"k", b'{"commandId": "\\ud800", "sender": "\\udfff"}'),
        Poison("wrong types", b"k", json.dumps({"commandId": 5, "sender": [], "docType": {}, "document": "x",
                                                "request_id": 1, "clearanceKey": None, "type": 3}).encode()),
        Poison("a header that is not UTF-8", b"k", valid, ((SOURCE_HEADER, b"\xff\xfe"), (NOTIFICATION_HEADER, b"1"))),
        Poison("a non-numeric notification header", b"k", valid,
               ((SOURCE_HEADER, b"forger"), (NOTIFICATION_HEADER, b"not-a-number")), reads_headers_only=True),
        Poison("a key that is not UTF-8", b"\xff\xfe", b"{}"),
        Poison("a huge message", b"k", json.dumps({"pad": "x" * HUGE_CHARS}).encode()),
    ]


def intake_catalogue(valid_command: bytes) -> list[Poison]:
    """The catalogue for an intake topic: the generic entries and a valid command with a lone surrogate."""
    data = json.loads(valid_command)
    data["commandId"] = data["commandId"] + "\ud800"
    surrogate = json.dumps(data, ensure_ascii=True).encode()
    return [*catalogue(valid_command), Poison("a valid command with a lone surrogate", b"k", surrogate)]


DECLARATION_SERVICES = topics.DECLARATION_SERVICES
SAGA_DLQ = topics.dead_letters("saga")
RECEIPTS_DLQ = topics.dead_letters("receipts")


def dead_letter_topics(topic: str, poison: Poison) -> set[str]:
    """Where the consumers of ``topic`` put ``poison``: one dead-letter topic per consuming service."""
    if topic in topics.INTAKE_TOPICS:
        return {topics.dead_letters(BY_CODE[topics.INTAKE_TOPICS[topic]].service)}
    feedback = topics.feedback_kind(topic)
    if feedback is not None:
        return {topics.dead_letters(feedback[0])}  # only its owner reads it
    if topic == topics.SIGN_RESULTS:
        return {RECEIPTS_DLQ}
    if topic in (topics.GOODS_LEFT, *topics.SERVICE_EVENTS):
        return {SAGA_DLQ}
    if topic == topics.SIGN_REQUESTS:
        return set() if poison.reads_headers_only else {topics.SIGNER_DEAD_LETTERS}
    raise ValueError(topic)


INTERNAL_TOPICS = (topics.SIGN_RESULTS, *topics.FEEDBACK_TOPICS, topics.GOODS_LEFT, *topics.SERVICE_EVENTS,
                   topics.SIGN_REQUESTS)


def kept(letter: DeadLetter, poison: Poison) -> bool:
    """Whether ``letter`` keeps ``poison`` byte for byte."""
    raw = letter.raw
    return raw is not None and (raw.key, raw.value, raw.headers) == (poison.key, poison.value, poison.headers)


def settle(stack: EmbeddedStack, rounds: int = 3_000) -> int:
    """Step until nothing moves; returns the failed attempts (the bus retries them, then dead-letters)."""
    failures = 0
    for _ in range(rounds):
        try:
            if not stack.step():
                return failures
        except HandlerFailed:
            failures += 1
    raise AssertionError("the stack never settled: a stalled partition or a jammed outbox")


def clear_one_clearance(stack: EmbeddedStack) -> dict[str, Any]:
    """Declare one full clearance and step until its list is released; returns the saga's documents view."""
    for command in declare_clearance(1):
        stack.submit(command)
    view: dict[str, Any] = {}
    for _ in range(100):
        settle(stack)
        view = stack.saga.view("3105960001:DEMO00000001")["documents"]
        if view.get("inventory", {}).get("statusCode") == 800:
            break
    return view
