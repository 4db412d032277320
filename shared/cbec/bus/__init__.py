"""The message-bus port and its adapters: in-process (tests, demo) and Kafka.

Kafka adapters live in ``cbec.bus.kafka`` and ``cbec.bus.faust_app`` and are imported from
there, so that importing the port does not load a Kafka client.
"""

from cbec.bus.in_process import InProcessBus, InProcessConsumer
from cbec.bus.ports import (
    BatchHandler,
    Consumer,
    DeadLetter,
    Handler,
    HandlerFailed,
    Message,
    Publisher,
    PublishFailed,
    Subscription,
    clearance_key,
)

__all__ = [
    "BatchHandler",
    "Consumer",
    "DeadLetter",
    "Handler",
    "HandlerFailed",
    "InProcessBus",
    "InProcessConsumer",
    "Message",
    "PublishFailed",
    "Publisher",
    "Subscription",
    "clearance_key",
]
