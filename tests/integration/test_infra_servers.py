"""The real servers the integration suite relies on answer: Kafka, Postgres and the SoftHSM2 token."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

if TYPE_CHECKING:
    from conftest import Pkcs11Token

pytestmark = pytest.mark.integration


def test_kafka_admin_creates_a_topic_that_is_then_listed(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic = kafka_topic_prefix + "created"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        # the broker's metadata cache learns of the topic shortly after the controller created it
        deadline = time.monotonic() + 30
        while topic not in admin.list_topics() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert topic in admin.list_topics()
        [described] = admin.describe_topics([topic])
        assert len(described["partitions"]) == 3
    finally:
        admin.close()


def test_a_message_produced_to_kafka_is_consumed_back_by_a_group(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic = kafka_topic_prefix + "roundtrip"
    payload = uuid.uuid4().bytes

    async def roundtrip() -> tuple[bytes | None, bytes | None]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(topic, payload, key=b"EBP1:ORDER1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=kafka_topic_prefix + "group",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=30)
            await consumer.commit()  # needs __consumer_offsets: proves the single-node settings
            return message.key, message.value
        finally:
            await consumer.stop()

    assert asyncio.run(roundtrip()) == (b"EBP1:ORDER1", payload)


def test_postgres_answers_a_query(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_each_test_gets_its_own_postgres_schema(database_url: str, pg_schema: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'create table "{pg_schema}".probe (id int primary key)')
        conn.execute(f'insert into "{pg_schema}".probe values (1)')
        found = conn.execute(
            "select count(*) from information_schema.tables where table_schema = %s", (pg_schema,)
        ).fetchone()
    assert found == (1,)


def test_the_softhsm_token_opens_with_its_pin(pkcs11_token: Pkcs11Token) -> None:
    import pkcs11

    token = pkcs11.lib(pkcs11_token.module).get_token(token_label=pkcs11_token.label)
    with token.open(user_pin=pkcs11_token.pin) as session:
        assert len(session.generate_random(256)) == 32
