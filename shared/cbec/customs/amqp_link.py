"""AMQP 0-9-1 transport to a DXP node (RabbitMQ), on ``pika``'s blocking connection.

Topology (declared unless ``declare=False``, all durable): outgoing DxpMsgs go to the topic exchange
``send_exchange`` with the sender's DXPID as routing key (and in the ``dxpid`` header), bound with ``#``
to the node's ``send_queue``; customs' receipts come to ``receive_exchange`` with the receiving DXPID
as routing key, bound to the node's ``receive_queue`` (``#``, or only the link's ``dxp_ids``). A receipt
recorded as rejected is rejected to the broker, which dead-letters it to ``<receive_queue>.quarantine``.

Sending: every message is persistent, ``mandatory`` and confirmed by the broker (publisher confirms):
:meth:`AmqpLink.hand_over` returns only after the broker has taken each message. The message id is the
DXP file name, so a publish repeated after a lost confirm carries the same id (customs' node dedupes by
it). Staging keeps messages in memory, or in ``staging`` (a folder: written and synced, then removed
after the confirm) so a crash between the record and the publish loses nothing.

Receiving: ``fetch`` takes messages without auto-ack; each stays unacknowledged until
:meth:`AmqpLink.acknowledge` (the link has stored it). What a round left unacknowledged is requeued at
the next fetch, and the broker requeues whatever a lost connection held: it comes again and ingest
dedupes. A dropped connection (a broker restart) is reopened on the next call.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pika
from pika.exceptions import AMQPChannelError, AMQPConnectionError, NackError, UnroutableError

from cbec.ceb.safe_xml import MAX_BYTES
from cbec.customs.filedrop import FETCH_BYTES, Received, Staged, seed_file_name, write_all_atomically
from cbec.customs.transport import message_name

log = logging.getLogger(__name__)

TICKET_SEPARATOR = "~"
FETCH_COUNT = 500  # messages per fetch at most
SENDER_ID = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?SenderId>\s*([A-Za-z0-9_.-]{1,64})\s*</")
BROKER_DOWN = (AMQPConnectionError, AMQPChannelError, ConnectionError, OSError)
T = TypeVar("T")


class TransportError(RuntimeError):
    """The broker did not take a message (unroutable, refused, or the connection failed meanwhile)."""


def sender_dxp_id(data: bytes) -> str:
    """The ``TransInfo/SenderId`` of a DxpMsg (the routing key); ``ValueError`` if it has none."""
    found = SENDER_ID.search(data[:16384])
    if found is None:
        raise ValueError("outgoing message has no DxpMsg SenderId to route by")
    return found.group(1).decode("ascii")


def receipt_name(headers: dict[str, Any] | None, message_id: str | None, body: bytes) -> str:
    """The receipt's file name: the ``file_name`` header, else the message id, when they are safe names;
    else one derived from the content (see :func:`cbec.customs.transport.message_name`)."""
    return message_name(((headers or {}).get("file_name"), message_id), body)


class AmqpLink:
    """One DXP node over AMQP: publish to its send queue, fetch from its receive queue."""

    def __init__(self, url: str, *, send_exchange: str = "cbec.dxp.send", send_queue: str = "cbec.dxp.send",
                 receive_exchange: str = "cbec.dxp.receive", receive_queue: str = "cbec.dxp.receive",
                 dxp_ids: Sequence[str] = (), declare: bool = True, staging: Path | None = None,
                 idle_wait: float = 0.5, connect: Callable[[], Any] | None = None) -> None:
        self.url = url
        self.send_exchange = send_exchange
        self.send_queue = send_queue
        self.receive_exchange = receive_exchange
        self.receive_queue = receive_queue
        self.quarantine_queue = f"{receive_queue}.quarantine"
        self.dxp_ids = tuple(dxp_ids)
        self.declare = declare
        self.staging_dir = staging
        self.idle_wait = idle_wait
        self._connect = connect or (lambda: pika.BlockingConnection(pika.URLParameters(url)))
        self._lock = threading.RLock()  # pika's blocking connection is not thread-safe
        self._connection: Any = None
        self._channel: Any = None
        self._deliveries: dict[str, list[int]] = {}  # fetched, not yet acknowledged: name -> delivery tags
        self._staged: dict[tuple[str, str], tuple[bytes, float]] = {}
        self._rng = random.Random()
        self._names_this_second: tuple[str, set[str]] = ("", set())
        self._down_until = 0.0  # after a failed connect: when to try again (idle() says so)
        if staging is not None:
            staging.mkdir(parents=True, exist_ok=True)

    # -- connection ---------------------------------------------------------------------------------

    def _open(self) -> Any:
        """The open channel, connecting (and declaring the topology) first if needed."""
        if self._channel is not None and self._channel.is_open and self._connection.is_open:
            return self._channel
        self._drop()
        connection = self._connect()
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            if self.declare:
                self._declare(channel)
        except BaseException:
            connection.close()
            raise
        self._connection, self._channel = connection, channel
        return channel

    def _declare(self, channel: Any) -> None:
        channel.exchange_declare(self.send_exchange, exchange_type="topic", durable=True)
        channel.queue_declare(self.send_queue, durable=True)
        channel.queue_bind(self.send_queue, self.send_exchange, routing_key="#")
        channel.exchange_declare(self.receive_exchange, exchange_type="topic", durable=True)
        channel.queue_declare(self.quarantine_queue, durable=True)
        channel.queue_declare(self.receive_queue, durable=True, arguments={
            "x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.quarantine_queue})
        for key in self.dxp_ids or ("#",):
            channel.queue_bind(self.receive_queue, self.receive_exchange, routing_key=key)

    def _drop(self) -> None:
        """Forget the connection (the broker requeues what it held unacknowledged)."""
        connection, self._connection, self._channel = self._connection, None, None
        self._deliveries.clear()
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail any way
                pass

    def _live(self) -> Any:
        """An open channel whose connection answers now (a broker restart is noticed before a publish);
        :class:`TransportError` when the broker cannot be reached."""
        try:
            channel = self._open()
            try:
                self._connection.process_data_events(0)
            except BROKER_DOWN:
                self._drop()
                channel = self._open()
        except BROKER_DOWN as error:
            self._drop()
            raise TransportError(f"AMQP broker not reachable: {type(error).__name__}") from error
        return channel

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- sending ------------------------------------------------------------------------------------

    def free_name(self, msg_type: str, customs_code: str, when: datetime) -> str:
        """A seed-rule name not handed out before in the same second (the 5-digit part is random, so a
        restarted process does not repeat the names, hence message ids, of its predecessor)."""
        second = when.strftime("%Y%m%d%H%M%S")
        with self._lock:
            if self._names_this_second[0] != second:
                self._names_this_second = (second, set())
            used = self._names_this_second[1]
            for _ in range(1000):
                name = seed_file_name(msg_type, customs_code, when, self._rng.randrange(100000))
                if name not in used:
                    used.add(name)
                    return name
        raise RuntimeError("no free DXP message name in this second")

    def _publish(self, channel: Any, name: str, data: bytes) -> None:
        dxp_id = sender_dxp_id(data)
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent, message_id=name, content_type="application/xml",
            type=name.split("_", 1)[0], timestamp=int(time.time()), headers={"dxpid": dxp_id, "file_name": name})
        try:
            channel.basic_publish(self.send_exchange, dxp_id, data, properties, mandatory=True)
        except UnroutableError as error:
            raise TransportError(f"{name}: no queue is bound for DXPID {dxp_id} on {self.send_exchange}") from error
        except NackError as error:
            raise TransportError(f"{name}: the broker refused the message") from error

    def transmit(self, name: str, data: bytes) -> None:
        """Publish one DxpMsg and wait for the broker's confirm."""
        self.transmit_many([(name, data)])

    def transmit_many(self, files: Sequence[tuple[str, bytes]]) -> None:
        with self._lock:
            channel = self._live()
            try:
                for name, data in files:
                    self._publish(channel, name, data)
            except BROKER_DOWN as error:
                self._drop()
                raise TransportError(f"broker connection lost while publishing: {type(error).__name__}") from error

    def stage(self, files: Sequence[Staged]) -> None:
        """Keep ``files`` until their transmission is recorded: in memory, or synced in the staging folder."""
        with self._lock:
            if self.staging_dir is not None:
                write_all_atomically(self.staging_dir, [(_staged_name(f), f.data) for f in files])
                return
            now = time.monotonic()
            for f in files:
                self._staged[(f.ticket, f.name)] = (f.data, now)

    def hand_over(self, files: Sequence[Staged]) -> int:
        """Publish staged messages (one no longer staged is skipped), each confirmed by the broker before
        it leaves the staging; returns how many were published. Raises :class:`TransportError` if the
        broker did not take one: it and the rest stay staged."""
        published = 0
        with self._lock:
            channel = None
            for f in files:
                data = self._staged_data(f)
                if data is None:
                    continue
                if channel is None:
                    channel = self._live()
                try:
                    self._publish(channel, f.name, data)
                except BROKER_DOWN as error:
                    self._drop()
                    raise TransportError(f"broker connection lost while publishing {f.name}: "
                                         f"{type(error).__name__}") from error
                self._unstage(f)
                published += 1
        return published

    def discard(self, files: Sequence[Staged]) -> None:
        with self._lock:
            for f in files:
                self._unstage(f)

    def staged(self) -> list[tuple[Staged, float]]:
        with self._lock:
            if self.staging_dir is None:
                now = time.monotonic()
                return [(Staged(ticket, name), now - at) for (ticket, name), (_, at) in self._staged.items()]
            out: list[tuple[Staged, float]] = []
            wall = time.time()
            for path in self.staging_dir.iterdir():
                ticket, sep, name = path.name.partition(TICKET_SEPARATOR)
                if path.name.startswith(".") or not sep:
                    continue
                try:
                    out.append((Staged(ticket, name), wall - path.stat().st_mtime))
                except FileNotFoundError:
                    continue
            return out

    def _staged_data(self, f: Staged) -> bytes | None:
        if self.staging_dir is None:
            held = self._staged.get((f.ticket, f.name))
            return None if held is None else held[0]
        try:
            return (self.staging_dir / _staged_name(f)).read_bytes()
        except FileNotFoundError:
            return None

    def _unstage(self, f: Staged) -> None:
        if self.staging_dir is None:
            self._staged.pop((f.ticket, f.name), None)
        else:
            (self.staging_dir / _staged_name(f)).unlink(missing_ok=True)

    # -- receiving ----------------------------------------------------------------------------------

    def fetch(self) -> list[Received]:
        """Receipts waiting in the receive queue (at most ``FETCH_COUNT`` messages or ``FETCH_BYTES``),
        each held unacknowledged until :meth:`acknowledge`. A message over ``MAX_BYTES`` is cut to that
        plus one byte, which the parser refuses as oversize. A broker that cannot be reached yields
        nothing (logged; tried again after ``idle()``)."""
        with self._lock:
            if time.monotonic() < self._down_until:
                return []
            try:
                channel = self._open()
                if self._deliveries:  # left unacknowledged by the last round: let them come again
                    channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
                    self._deliveries.clear()
                return self._take(channel)
            except BROKER_DOWN as error:
                log.warning("AMQP receive queue %s not reachable (%s); retrying in %.1fs", self.receive_queue,
                            type(error).__name__, self.idle_wait)
                self._drop()
                self._down_until = time.monotonic() + self.idle_wait
                return []

    def _take(self, channel: Any) -> list[Received]:
        out: list[Received] = []
        total = 0
        while len(out) < FETCH_COUNT and total < FETCH_BYTES:
            method, properties, body = channel.basic_get(self.receive_queue, auto_ack=False)
            if method is None:
                break
            body = bytes(body)
            name = receipt_name(properties.headers, properties.message_id, body)
            self._deliveries.setdefault(name, []).append(method.delivery_tag)
            out.append(Received(name, body[:MAX_BYTES + 1]))
            total += len(body)
        return out

    def acknowledge(self, name: str) -> None:
        """``name`` is stored: the broker may forget it."""
        self._settle(name, lambda channel, tag: channel.basic_ack(tag))

    def quarantine(self, name: str) -> None:
        """``name`` is recorded as rejected: rejected to the broker, which dead-letters it to the
        quarantine queue (kept for a look)."""
        self._settle(name, lambda channel, tag: channel.basic_reject(tag, requeue=False))

    def _settle(self, name: str, how: Callable[[Any, int], None]) -> None:
        with self._lock:
            tags = self._deliveries.pop(name, [])
            if not tags or self._channel is None:
                return
            try:
                for tag in tags:
                    how(self._channel, tag)
            except BROKER_DOWN as error:  # the broker requeues it; it comes again and ingest dedupes
                log.warning("AMQP settle of %s failed (%s); it will be delivered again", name,
                            type(error).__name__)
                self._drop()

    def idle(self) -> float:
        return max(self.idle_wait, self._down_until - time.monotonic())


def _staged_name(staged: Staged) -> str:
    return f"{staged.ticket}{TICKET_SEPARATOR}{staged.name}"
