"""Adapt a topic → handler table to a bus consumer, with the dedupe position of each message."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cbec.bus.ports import Message
from cbec.declaration.dispatch import handling
from cbec.declaration.ports import Position
from cbec.store.outbox import tracking_for
from cbec.telemetry import consuming

TopicHandler = Callable[[bytes, Position], None]


def position_of(consumer: str, message: Message) -> Position:
    """Relayed messages dedupe by their source's notification id, others by Kafka offset."""
    tracking = tracking_for(consumer, message)
    return Position(tracking.application_name, tracking.notification_id)


def bus_handler(consumer: str, table: Mapping[str, TopicHandler]) -> Callable[[Message], None]:
    def handle(message: Message) -> None:
        handler = table.get(message.topic)
        if handler is not None:
            with consuming(message.topic, message.partition, message.offset, message.headers), handling(message):
                handler(message.value, position_of(consumer, message))

    return handle
