"""The operator view's circuits and lag on real Kafka: the faust agent keeps each tenant's latest circuit
change in its table, and the lag sampler reads a group's committed offsets against the end offsets with
kafka-python's admin client."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cbec.bus.kafka import KafkaPublisher, ensure_topics
from cbec.contracts import topics
from cbec.contracts.circuits import CircuitChanged
from console_service.consumer_lag import KafkaLagSource, LagSampler
from console_service.operator_agent import operator_agent
from console_service.operator_stats import SOURCE_TOPICS, OperatorFigures
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

pytestmark = pytest.mark.integration
PLATFORM, PAYMENT = "3105960001", "3105960002"


def test_the_agent_keeps_the_open_circuits_of_the_circuit_topic(kafka_bootstrap: str, kafka_topic_prefix: str,
                                                                 tmp_path: Path) -> None:
    named = {f"{kafka_topic_prefix}{name}": name for name in SOURCE_TOPICS}
    circuits_topic = f"{kafka_topic_prefix}{topics.NOTIFICATION_CIRCUITS}"
    ensure_topics(kafka_bootstrap, list(named), partitions=2)
    agent = operator_agent(kafka_bootstrap, partitions=2, datadir=str(tmp_path),
                           app_id=f"cbec-test-operator-{uuid.uuid4().hex[:8]}", source_topics=named)
    now = datetime.now(UTC)
    later, probe = now + timedelta(seconds=5), now + timedelta(hours=1)
    changes = [CircuitChanged(PLATFORM, "open", now.isoformat(), now.isoformat(), probe.isoformat(), 1, "HTTP 503"),
               CircuitChanged(PAYMENT, "open", now.isoformat(), now.isoformat(), now.isoformat(), 2, "ConnectError"),
               CircuitChanged(PAYMENT, "closed", later.isoformat())]

    async def scenario() -> OperatorFigures:
        await agent.start()
        try:
            publisher = KafkaPublisher(kafka_bootstrap)
            for change in changes:
                publisher.publish(circuits_topic, change.key, change.to_json(), {})
            publisher.flush()
            publisher.close()
            for _ in range(600):
                if agent.seen >= len(changes):
                    break
                await asyncio.sleep(0.1)
            return agent.figures()
        finally:
            await agent.stop()

    figures = asyncio.run(scenario())

    assert list(figures.circuits) == [PLATFORM]
    assert figures.circuits[PLATFORM].state == "open" and figures.circuits[PLATFORM].error == "HTTP 503"


def test_the_sampler_reads_a_groups_lag_from_the_brokers(kafka_bootstrap: str, kafka_topic_prefix: str) -> None:
    topic = f"{kafka_topic_prefix}cbec.in.order"
    group = f"cbec-test-lag-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=2)
    publisher = KafkaPublisher(kafka_bootstrap)
    for n in range(10):
        publisher.publish(topic, f"key-{n}", b"{}", {})
    publisher.flush()
    publisher.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in (0, 1)]
    ends = consumer.end_offsets(partitions)
    assert sum(ends.values()) == 10
    consumer.commit({tp: OffsetAndMetadata(min(1, ends[tp]), "", -1) for tp in partitions})  # one read of each
    consumer.close()
    source = KafkaLagSource({"bootstrap_servers": kafka_bootstrap})
    try:
        sampler = LagSampler(source, prefix=group)
        sample = asyncio.run(sampler.refresh())
    finally:
        source.close()

    assert sample is not None
    assert sample.lag == {(group, topic): 10 - sum(min(1, end) for end in ends.values())}
