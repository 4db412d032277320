"""`cbec dlq redrive`: a dead letter goes back to the topic it came from, byte for byte, exactly once,
and a letter whose origin the product does not know stays where it is."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from cbec.bus.in_process import InProcessBus
from cbec.bus.poison import message_of, poison_letter
from cbec.contracts import topics
from cbec.contracts.dead_letter import DeadLetter, RawMessage
from cbec.privacy.cipher import AesGcmCipher, new_key
from cbec_cli.dlq import show_records
from cbec_cli.dlq_redrive import REDRIVEN_HEADER, Outcome, Record, redrive

DLQ = topics.dead_letters("order")
RING = AesGcmCipher.from_spec(f"k1:{new_key()}")
BUYER = "110101199001011234"


class BusSink:
    """The in-process bus as the redrive's sink (Kafka's in the CLI)."""

    def __init__(self, bus: InProcessBus) -> None:
        self.bus = bus
        self.flushes = 0

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]],
             partition: int | None) -> None:
        self.bus.publish_record(topic, key, value, list(headers), partition=partition or 0)

    def flush(self) -> None:
        self.flushes += 1


def records(bus: InProcessBus, topic: str = DLQ) -> list[Record]:
    return [Record(m.partition, m.offset, m.key_bytes(), None if m.null_value else m.value)
            for m in bus.messages(topic)]


def dead_letter(bus: InProcessBus, letter: DeadLetter) -> str:
    bus.publish(DLQ, letter.key, letter.sealed_with(RING).to_json())
    last = bus.messages(DLQ)[-1]
    return f"{last.partition}:{last.offset}"


def poisoned(topic: str, value: bytes, *, offset: int = 7) -> DeadLetter:
    message = message_of(topic, 0, offset, b"SO-1", value, [("traceparent", b"00-abc"), ("raw", b"\xff")])
    return poison_letter(message, ValueError("the handler failed"))


def outcomes(found: list[Outcome]) -> list[tuple[str, str]]:
    return [(o.id, o.outcome) for o in found]


def test_a_sealed_letter_goes_back_to_its_topic_byte_for_byte_and_only_once() -> None:
    bus = InProcessBus()
    command = json.dumps({"buyerIdNumber": BUYER}).encode()
    letter_id = dead_letter(bus, poisoned(topics.IN_ORDER, command))

    first = redrive(DLQ, records(bus), BusSink(bus), RING, ids=None)

    assert outcomes(first) == [(letter_id, "redriven")] and first[0].topic == topics.IN_ORDER
    [again] = bus.messages(topics.IN_ORDER)
    assert (again.key, again.value) == ("SO-1", command)
    assert again.header_bytes() == (("traceparent", b"00-abc"), ("raw", b"\xff"),
                                    (REDRIVEN_HEADER, f"{DLQ}:{letter_id}".encode()))
    assert BUYER.encode() not in b"".join(m.value for m in bus.messages(DLQ))  # the mark holds no data

    second = redrive(DLQ, records(bus), BusSink(bus), RING, ids=None)
    by_id = redrive(DLQ, records(bus), BusSink(bus), RING, ids=[letter_id])
    assert second == [] and outcomes(by_id) == [(letter_id, "already redriven")]
    assert len(bus.messages(topics.IN_ORDER)) == 1


def test_a_dry_run_says_what_it_would_do_and_sends_nothing() -> None:
    bus = InProcessBus()
    letter_id = dead_letter(bus, poisoned(topics.SIGN_REQUESTS, b"{}"))
    before = len(bus.messages(DLQ))

    planned = redrive(DLQ, records(bus), BusSink(bus), RING, ids=None, dry_run=True)

    assert [(o.id, o.outcome, o.topic) for o in planned] == [(letter_id, "would redrive", topics.SIGN_REQUESTS)]
    assert bus.messages(topics.SIGN_REQUESTS) == [] and len(bus.messages(DLQ)) == before


def test_letters_without_a_known_origin_are_refused_and_the_others_still_go() -> None:
    bus = InProcessBus()
    unknown = dead_letter(bus, poisoned("somebody.elses.topic", b"{}"))
    looping = dead_letter(bus, poisoned(topics.dead_letters("saga"), b"{}"))
    findings = poisoned(topics.IN_ORDER, b"{}").errors
    legacy = dead_letter(bus, DeadLetter(f"{topics.IN_ORDER}:0", 3, findings, "{}"))  # before letters kept the topic
    good = dead_letter(bus, poisoned(topics.tenant_intake(topics.IN_ORDER, "3105960001"), b"{}"))

    found = {o.id: o for o in redrive(DLQ, records(bus), BusSink(bus), RING, ids=None)}

    assert {i: o.outcome for i, o in found.items()} == {
        unknown: "refused", looping: "refused", legacy: "refused", good: "redriven"}
    assert "'somebody.elses.topic' is not one cbec consumes" in found[unknown].reason
    assert "unknown" in found[legacy].reason
    assert len(bus.messages(topics.tenant_intake(topics.IN_ORDER, "3105960001"))) == 1


def test_a_sealed_letter_without_its_key_and_an_unknown_id_are_refused() -> None:
    bus = InProcessBus()
    letter_id = dead_letter(bus, poisoned(topics.IN_ORDER, b"{}"))
    other_ring = AesGcmCipher.from_spec(f"k2:{new_key()}")

    found = redrive(DLQ, records(bus), BusSink(bus), None, ids=[letter_id, "0:99"])
    wrong = redrive(DLQ, records(bus), BusSink(bus), other_ring, ids=[letter_id])

    assert outcomes(found) == [(letter_id, "refused"), ("0:99", "refused")]
    assert "set CBEC_PII_KEYS" in found[0].reason and "no letter 0:99" in found[1].reason
    assert outcomes(wrong) == [(letter_id, "refused")] and "k1" in wrong[0].reason
    assert bus.messages(topics.IN_ORDER) == []


def test_only_a_dead_letter_topic_can_be_redriven() -> None:
    with pytest.raises(ValueError, match="not a dead-letter topic"):
        redrive(topics.IN_ORDER, [], BusSink(InProcessBus()), RING)


def test_show_gives_each_letter_its_id_and_tells_which_were_redriven() -> None:
    bus = InProcessBus()
    first = dead_letter(bus, poisoned(topics.IN_ORDER, b"{}", offset=1))
    second = dead_letter(bus, poisoned(topics.IN_ORDER, b"{}", offset=2))
    redrive(DLQ, records(bus), BusSink(bus), RING, ids=[first])

    shown = [json.loads(line) for line in show_records(records(bus), RING)]

    assert [(s["id"], s.get("redriven", False), s["offset"]) for s in shown] == [(first, True, 1), (second, False, 2)]


def test_a_null_value_is_redriven_as_a_null_value() -> None:
    bus = InProcessBus()
    findings = list(poisoned(topics.IN_ORDER, b"{}").errors)
    tombstone = DeadLetter.of(f"{topics.IN_ORDER}:0", 4, findings, b"", message=RawMessage(b"SO-9", None),
                              topic=topics.IN_ORDER, partition=0)
    dead_letter(bus, tombstone)

    redrive(DLQ, records(bus), BusSink(bus), RING)

    [again] = bus.messages(topics.IN_ORDER)
    assert again.null_value and again.key == "SO-9"
