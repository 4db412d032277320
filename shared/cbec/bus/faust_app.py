"""A faust-streaming app with the project's settings, for service workers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust

from cbec.bus.ports import Message
from cbec.bus.security import client_options
from cbec.settings import KafkaSettings


def make_app(
    name: str,
    bootstrap: str,
    *,
    partitions: int = 8,
    replication_factor: int = 1,
    web_port: int | None = None,
    kafka: KafkaSettings | None = None,
    **overrides: Any,
) -> faust.App:
    """A faust app for service ``name`` on the Kafka brokers ``bootstrap`` (``host:port[,…]``).

    Settings: every acknowledgement (``producer_acks=-1``), at-least-once processing (offsets
    are committed after the agent has taken the message; handlers dedupe via tracking in their
    own database), new groups start at the earliest offset, in-memory tables, and no web server
    unless ``web_port`` is given. Declare agents with ``concurrency=1`` (faust's default; more
    can commit past an in-flight message, faust #606) and scale with partitions and replicas.
    ``kafka``: the settings section whose SASL/TLS options become the broker credentials (as for
    every other client, :func:`cbec.bus.security.client_options`).
    """
    brokers = [f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip()]
    settings: dict[str, Any] = {
        "broker": brokers,
        "topic_partitions": partitions,
        "topic_replication_factor": replication_factor,
        "producer_acks": -1,
        "producer_linger": 0.005,
        "processing_guarantee": "at_least_once",
        "consumer_auto_offset_reset": "earliest",
        "store": "memory://",
        "table_standby_replicas": 0,
        "web_enabled": web_port is not None,
        "web_port": web_port or 6066,
        "web_bind": "127.0.0.1",
        "autodiscover": False,
        "broker_commit_every": 100,
        "broker_commit_interval": 1.0,
    }
    if kafka is not None and (kafka.uses_sasl or kafka.uses_tls):
        settings["broker_credentials"] = credentials(kafka)
    settings.update(overrides)
    return faust.App(name, **settings)


def credentials(kafka: KafkaSettings) -> faust.SASLCredentials | faust.SSLCredentials:
    """faust's broker credentials for the ``kafka`` settings (through :func:`client_options`)."""
    options = client_options(kafka, "aiokafka")
    if kafka.uses_sasl:
        return faust.SASLCredentials(username=options["sasl_plain_username"],
                                     password=options["sasl_plain_password"],
                                     mechanism=options["sasl_mechanism"], ssl_context=options.get("ssl_context"))
    return faust.SSLCredentials(options["ssl_context"])


def to_message(event: Any) -> Message:
    """The bus ``Message`` for a faust stream event (e.g. to pass to ``tracking_for``).

    Uses the raw record (``event.message``), so it works whatever the topic's serializers.
    """
    raw = event.message
    key = raw.key.decode("utf-8") if isinstance(raw.key, bytes) else raw.key
    value = raw.value if isinstance(raw.value, bytes) else bytes(raw.value or b"")
    headers = raw.headers.items() if isinstance(raw.headers, Mapping) else (raw.headers or [])
    return Message(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=key,
        value=value,
        headers={k: v.decode("utf-8") if isinstance(v, bytes) else str(v) for k, v in headers},
    )
