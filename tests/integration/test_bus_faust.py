"""A faust agent made with the project's app settings consumes from real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from cbec.bus import Message
from cbec.bus.faust_app import make_app, to_message
from cbec.bus.kafka import KafkaPublisher, ensure_topics
from cbec.store.outbox import tracking_for

pytestmark = pytest.mark.integration


def test_a_faust_agent_receives_published_messages_keyed_by_clearance(
    kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path
) -> None:
    topic_name = f"{kafka_topic_prefix}in"
    ensure_topics(kafka_bootstrap, [topic_name], partitions=2)
    app = make_app(f"cbec-test-{uuid.uuid4().hex[:8]}", kafka_bootstrap, partitions=2, datadir=str(tmp_path))
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
    seen: list[tuple[bytes, bytes, int]] = []
    messages: list[Message] = []

    @app.agent(topic, concurrency=1)
    async def record(stream):  # type: ignore[no-untyped-def]
        async for event in stream.events():
            seen.append((event.key, event.value, event.message.partition))
            messages.append(to_message(event))

    async def scenario() -> None:
        await app.start()
        try:
            publisher = KafkaPublisher(kafka_bootstrap)
            for n in range(6):
                publisher.publish(topic_name, f"EBP001:SO-{n % 2}", f"{n}".encode(), {"n": str(n)})
            publisher.flush()
            publisher.close()
            for _ in range(300):
                if len(seen) == 6:
                    break
                await asyncio.sleep(0.1)
        finally:
            await app.stop()

    asyncio.run(scenario())

    assert sorted(value for _, value, _ in seen) == [b"0", b"1", b"2", b"3", b"4", b"5"]
    for key in (b"EBP001:SO-0", b"EBP001:SO-1"):
        assert [value for k, value, _ in seen if k == key] == sorted(
            value for k, value, _ in seen if k == key
        )
        assert len({partition for k, _, partition in seen if k == key}) == 1
    first = next(m for m in messages if m.value == b"0")
    assert (first.topic, first.key, first.headers) == (topic_name, "EBP001:SO-0", {"n": "0"})
    assert tracking_for("saga", first).application_name == f"saga|{topic_name}/{first.partition}"
