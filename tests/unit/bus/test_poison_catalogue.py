"""The poison catalogue on the in-process bus with every service attached: each poison message lands in
its service's dead-letter topic byte for byte, and a valid clearance declared afterwards goes through."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from cbec.bus.ports import HandlerFailed
from cbec.contracts import topics
from cbec.contracts.dead_letter import DeadLetter
from cbec_testkit.embedded import EmbeddedStack
from cbec_testkit.samples import declare_clearance
from poison_catalogue import (
    INTERNAL_TOPICS,
    Poison,
    catalogue,
    clear_one_clearance,
    dead_letter_topics,
    intake_catalogue,
    kept,
    settle,
)


def test_every_poison_message_is_dead_lettered_byte_for_byte_and_a_valid_clearance_goes_through(
    tmp_path: Path,
) -> None:
    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp")
    valid = {command.doc_type: command.to_json() for command in declare_clearance(7)}
    published: list[tuple[str, int, Poison]] = []
    try:
        for topic, code in topics.INTAKE_TOPICS.items():
            for poison in intake_catalogue(valid.get(code, valid["CEB311"])):
                published.append((topic, len(stack.bus.messages(topic)), poison))
                stack.bus.publish_record(topic, poison.key, poison.value, list(poison.headers))
        for topic in INTERNAL_TOPICS:
            for poison in catalogue():
                published.append((topic, len(stack.bus.messages(topic)), poison))
                stack.bus.publish_record(topic, poison.key, poison.value, list(poison.headers))

        retried = settle(stack)

        letters: dict[str, list[DeadLetter]] = {}
        for dlq in {t for topic, _, p in published for t in dead_letter_topics(topic, p)}:
            letters[dlq] = [DeadLetter.from_json(m.value) for m in stack.bus.messages(dlq)]
        missing = [
            (topic, poison.name, dlq)
            for topic, offset, poison in published
            for dlq in dead_letter_topics(topic, poison)
            if not any(letter.topic == topic and letter.offset == offset and kept(letter, poison)
                       for letter in letters[dlq])
        ]
        assert missing == []
        assert retried > 0  # the messages that failed in the handler were tried again before dead-lettering

        view = clear_one_clearance(stack)
        assert view["order"]["statusCode"] >= 120 and view["inventory"]["statusCode"] == 800
        counts = Counter(dlq for topic, _, p in published for dlq in dead_letter_topics(topic, p))
        print(f"poison catalogue (in-process): {len(published)} messages on {len({t for t, _, _ in published})} "
              f"topics, {sum(counts.values())} dead letters expected and found, {retried} retried attempts")
    finally:
        stack.close()


def test_a_message_that_fails_in_its_handler_is_tried_three_times_then_dead_lettered(tmp_path: Path) -> None:
    from cbec.bus.in_process import InProcessBus
    from cbec.bus.ports import Message, Subscription

    bus = InProcessBus()
    tries: list[int] = []
    dead: list[tuple[Message, BaseException]] = []

    def handler(message: Message) -> None:
        if message.value == b"poison":
            tries.append(message.offset)
            raise RecursionError("maximum recursion depth exceeded")

    bus.consumer(Subscription(("t",), "g"), handler, dead_letter=lambda m, e: dead.append((m, e)), max_attempts=3)
    for value in (b"poison", b"fine"):
        bus.publish("t", "k", value)
    for _ in range(2):
        with pytest.raises(HandlerFailed):
            bus.drain()
    assert bus.drain() == 2
    assert tries == [0, 0, 0] and [m.value for m, _ in dead] == [b"poison"]
    assert bus.lag("g", "t") == 0


def test_an_infrastructure_error_is_never_dead_lettered() -> None:
    from cbec.bus.in_process import InProcessBus
    from cbec.bus.ports import Message, Subscription

    bus = InProcessBus()
    dead: list[Message] = []

    def handler(message: Message) -> None:
        raise ConnectionRefusedError("the database is down")

    bus.consumer(Subscription(("t",), "g"), handler, dead_letter=lambda m, e: dead.append(m), max_attempts=3)
    bus.publish("t", "k", b"a good message")
    for _ in range(5):
        with pytest.raises(HandlerFailed):
            bus.drain()
    assert dead == [] and bus.lag("g", "t") == 1
