"""The message-bus port: what a publisher and a consumer promise, whatever the broker."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Message:
    """One delivered message. ``offset`` is its position within ``topic``/``partition``."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A consumer group's interest in some topics. Each group sees every message once
    (at least once); consumers in one group share the partitions."""

    topics: tuple[str, ...]
    group: str

    def __post_init__(self) -> None:
        if isinstance(self.topics, str):
            object.__setattr__(self, "topics", (self.topics,))
        if not self.topics:
            raise ValueError("a subscription needs at least one topic")


Handler = Callable[[Message], None]
"""Handles one message; returning means done (the offset may be committed), raising means
not done (the message is delivered again)."""

BatchHandler = Callable[[Sequence[Message]], None]
"""Handles consecutive messages of one partition at once (e.g. in one database transaction with
the tracking of the last one); if it raises, the messages are handed over again one at a time."""

DeadLetter = Callable[[Message, BaseException], None]
"""Called instead of failing when a handler raises; afterwards the message counts as handled."""


@runtime_checkable
class Publisher(Protocol):
    """Sends messages. Messages with one key keep their order; ``flush`` returns once every
    message published so far is durably accepted, and raises if any was not."""

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None: ...

    def flush(self) -> None: ...


@runtime_checkable
class Consumer(Protocol):
    """Delivers a subscription's messages to its handler (or batch handler), one partition's
    messages in offset order and one at a time, and commits an offset only after the handler
    returned. Built by the adapter: ``InProcessBus.consumer(...)``, ``KafkaConsumerLoop(...)``."""

    def run_once(self, timeout: float = 1.0) -> int:
        """Deliver what is available within ``timeout`` seconds; return how many were handled.
        A handler's exception propagates (as ``HandlerFailed``, unless a dead letter takes it)
        with the failed message and everything after it left uncommitted."""
        ...

    def close(self) -> None: ...


class HandlerFailed(Exception):  # noqa: N818 - names the event
    """A handler raised; the message stays uncommitted and will be delivered again."""

    def __init__(self, message: Message, error: BaseException) -> None:
        super().__init__(
            f"handler failed on {message.topic}[{message.partition}]@{message.offset}: {error!r}"
        )
        self.message = message
        self.error = error


class PublishFailed(Exception):  # noqa: N818 - names the event
    """The broker did not accept one or more published messages."""


def clearance_key(ebp_code: str, order_no: str) -> str:
    """The message key of one clearance: ``<ebpCode>:<orderNo>`` (keeps it on one partition)."""
    return f"{ebp_code}:{order_no}"
