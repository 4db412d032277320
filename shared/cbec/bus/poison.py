"""Poison messages: which failures a consumer retries, which it dead-letters, which end the process.

A consumer must never stall a partition on one message, nor end quietly. Each failure is one of:

* **a defect** of the record itself (no value, a key or header value that is not UTF-8): the message
  is dead-lettered at once, without calling the handler (:class:`MessageDefect`);
* **an infrastructure error** (the database or broker unreachable, a timeout, out of file handles):
  nothing is wrong with the message; it is retried, and when that goes on the error ends the
  process (the runtime exits 70 and is restarted) rather than dropping a good message;
* **a broken contract** (an error marked ``poison = True``, like ``ContractError``): dead-lettered at
  once, as trying again cannot help;
* **anything else** (the handler refused the message: unreadable JSON, a broken contract, a value
  the database will not store, a ``RecursionError``): retried up to ``max_attempts`` times in all,
  then dead-lettered, and the partition moves on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cbec.bus.ports import NULL_VALUE, Message, PublishFailed
from cbec.contracts.dead_letter import DeadLetter, RawMessage
from cbec.errors import CebError

DEFAULT_MAX_ATTEMPTS = 3
POISON = "CBEC-0090"  # a message a consumer could not decode or handle

# Errors that say nothing about the message: connection and I/O trouble of the database or broker.
_INFRASTRUCTURE_TYPES: tuple[type[BaseException], ...] = (OSError, TimeoutError, PublishFailed)
_INFRASTRUCTURE_NAMES = frozenset({
    "OperationalError",  # psycopg, sqlite3, SQLAlchemy: connection lost, database locked
    "InterfaceError",  # psycopg: the connection is closed
    "PoolTimeout",  # psycopg_pool
    "KafkaConnectionError",
    "KafkaTimeoutError",
    "NoBrokersAvailable",
    "NodeNotReadyError",
    "RequestTimedOutError",
})


class MessageDefect(ValueError):
    """The record cannot be presented to a handler (see ``Message.defects``)."""

    def __init__(self, defects: Sequence[str]) -> None:
        self.defects = tuple(defects)
        super().__init__("; ".join(self.defects))


def is_certain(error: BaseException) -> bool:
    """Whether ``error`` says for sure the message is poison (no retry can help): a defect of the
    record, or an error marked ``poison = True`` (``cbec.contracts.base.ContractError``)."""
    return isinstance(error, MessageDefect) or getattr(error, "poison", False) is True


def is_infrastructure(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is trouble of the infrastructure, not of the message."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _INFRASTRUCTURE_TYPES) and not isinstance(current, UnicodeError):
            return True
        if any(t.__name__ in _INFRASTRUCTURE_NAMES for t in type(current).__mro__):
            return True
        current = current.__cause__ or current.__context__
    return False


@dataclass
class Attempts:
    """Counts the failed attempts of each message a consumer is retrying (by topic, partition, offset)."""

    max_attempts: int = 1
    _failed: dict[tuple[str, int, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("a message needs at least one attempt")

    def failed(self, message: Message) -> int:
        """Count one more failure of ``message``; returns how many it has had."""
        where = (message.topic, message.partition, message.offset)
        self._failed[where] = self._failed.get(where, 0) + 1
        if len(self._failed) > 10_000:  # messages retried once and then handled elsewhere (a rebalance)
            self._failed.pop(next(iter(self._failed)))
        return self._failed[where]

    def exhausted(self, message: Message) -> bool:
        """Count a failure; whether it was the last attempt allowed."""
        return self.failed(message) >= self.max_attempts

    def done(self, message: Message) -> None:
        self._failed.pop((message.topic, message.partition, message.offset), None)

    def of(self, message: Message) -> int:
        return self._failed.get((message.topic, message.partition, message.offset), 0)


def reasons(message: Message, error: BaseException) -> list[str]:
    """The reasons to give in a dead letter: the defects, or the error (and its cause) by type and text."""
    if isinstance(error, MessageDefect):
        return list(error.defects)
    out = [f"{type(error).__name__}: {_short(error)}"]
    cause = error.__cause__
    if cause is not None and cause is not error:
        out.append(f"caused by {type(cause).__name__}: {_short(cause)}")
    return out


def _short(error: BaseException, limit: int = 1_000) -> str:
    text = str(error)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def message_of(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] | None,
) -> Message:
    """A ``Message`` of a record's parts as they came (shared by every adapter that reads raw records)."""
    defects: list[str] = []
    raw_headers = tuple((str(name), bytes(v or b"")) for name, v in (headers or ()))
    decoded: dict[str, str] = {}
    for name, raw in raw_headers:
        try:
            decoded[name] = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            defects.append(f"header {name!r} is not UTF-8 ({error.reason} at byte {error.start})")
    text_key: str | None = None
    raw_key: bytes | None = None
    if key is not None:
        try:
            text_key = bytes(key).decode("utf-8")
        except UnicodeDecodeError:
            raw_key = bytes(key)
            defects.append("the message key is not UTF-8")
    if value is None:
        defects.append(NULL_VALUE)
    exact = not defects or all(d == NULL_VALUE for d in defects)
    return Message(topic, partition, offset, text_key, bytes(value or b""), decoded,
                   raw_headers=None if exact and len(decoded) == len(raw_headers) else raw_headers,
                   raw_key=raw_key, defects=tuple(defects))


def raw_of(message: Message) -> RawMessage:
    """The message's bytes as they came (for a lossless dead letter)."""
    return RawMessage(message.key_bytes(), None if message.null_value else message.value, message.header_bytes())


def dead_letter_of(message: Message, errors: Sequence[CebError], *, source: str | None = None,
                   attempts: int = 0) -> DeadLetter:
    """A lossless dead letter of ``message`` with ``errors`` (source ``topic:partition`` unless given)."""
    return DeadLetter.of(source or f"{message.topic}:{message.partition}", message.offset, list(errors),
                         message.value, message=raw_of(message), topic=message.topic,
                         partition=message.partition, attempts=attempts)


def poison_letter(message: Message, error: BaseException) -> DeadLetter:
    """The dead letter of a poison message: its reasons as CBEC-0090 findings."""
    given = getattr(error, "errors", None)
    if isinstance(given, list) and given and all(isinstance(e, CebError) for e in given):
        findings = list(given)  # a ContractError names its own findings
    else:
        findings = [CebError(POISON, "$", "poison", reason) for reason in reasons(message, error)]
    return dead_letter_of(message, findings, attempts=getattr(error, "attempts", 0))
