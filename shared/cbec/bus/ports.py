"""The message-bus port: what a publisher and a consumer promise, whatever the broker."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Message:
    """One delivered message. ``offset`` is its position within ``topic``/``partition``.

    ``headers`` holds the headers whose values are UTF-8 text. An adapter that meets a record it
    cannot present faithfully (a null value, a key or header value that is not UTF-8) still delivers
    it, with ``defects`` naming each problem and ``raw_headers`` the headers exactly as they came:
    the consumer dead-letters such a message without calling the handler (``cbec.bus.poison``).
    """

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    raw_headers: tuple[tuple[str, bytes], ...] | None = None  # None: exactly ``headers``, UTF-8 encoded
    raw_key: bytes | None = None  # set when the key is not UTF-8 (``key`` is then None)
    defects: tuple[str, ...] = ()

    def header_bytes(self) -> tuple[tuple[str, bytes], ...]:
        """The headers as they came on the wire."""
        if self.raw_headers is not None:
            return self.raw_headers
        return tuple((k, v.encode("utf-8")) for k, v in self.headers.items())

    def key_bytes(self) -> bytes | None:
        """The key as it came on the wire."""
        if self.raw_key is not None:
            return self.raw_key
        return self.key.encode("utf-8") if self.key is not None else None

    @property
    def null_value(self) -> bool:
        """Whether the record had no value at all (a tombstone); ``value`` is then ``b""``."""
        return NULL_VALUE in self.defects


NULL_VALUE = "the message has no value (null)"


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
"""Called instead of failing when a message is poison: it has ``defects``, or its handler raised
something other than an infrastructure error on its last allowed attempt (``cbec.bus.poison``);
afterwards the message counts as handled. If the dead letter itself raises, the consumer fails."""


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
