"""Customs' side of an AMQP DXP node for tests and local runs: it puts the customs simulator (which works
on folders) behind a broker.

:meth:`AmqpCustomsNode.pump` moves what the platform published on the send queue into the simulator's
outbox folder (each message acknowledged only after its file is written and synced), and publishes each
receipt file the simulator wrote to the receive exchange, routed by the receipt's receiving DXPID, with
publisher confirms (the file is removed only after the broker confirmed it). Topology as
:class:`cbec.customs.amqp_link.AmqpLink` declares it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pika
from cbec.customs.amqp_link import receipt_name
from cbec.customs.filedrop import waiting_files, write_atomically

RECEIVER_ID = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?ReceiverId>\s*([A-Za-z0-9_.-]{1,64})\s*</")


class AmqpCustomsNode:
    """Bridges a broker's send queue / receive exchange and the simulator's outbox / inbox folders."""

    def __init__(self, url: str, outbox: Path, inbox: Path, *, send_queue: str = "cbec.dxp.send",
                 receive_exchange: str = "cbec.dxp.receive", batch: int = 500) -> None:
        self.outbox = outbox
        self.inbox = inbox
        self.send_queue = send_queue
        self.receive_exchange = receive_exchange
        self.batch = batch
        self.received: list[dict[str, Any]] = []  # routing key and headers of each message taken
        self._url = url
        self._connection: Any = None
        self._channel: Any = None
        outbox.mkdir(parents=True, exist_ok=True)
        inbox.mkdir(parents=True, exist_ok=True)

    def _open(self) -> Any:
        if self._channel is None or not self._channel.is_open or not self._connection.is_open:
            self._connection = pika.BlockingConnection(pika.URLParameters(self._url))
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            # the platform's link declares the rest; these two are what customs' node uses
            self._channel.queue_declare(self.send_queue, durable=True)
            self._channel.exchange_declare(self.receive_exchange, exchange_type="topic", durable=True)
        return self._channel

    def pump(self) -> int:
        """One round each way; returns how many messages moved."""
        return self.take_sent() + self.publish_receipts()

    def take_sent(self) -> int:
        channel = self._open()
        moved = 0
        while moved < self.batch:
            method, properties, body = channel.basic_get(self.send_queue, auto_ack=False)
            if method is None:
                break
            name = receipt_name(properties.headers, properties.message_id, bytes(body))
            write_atomically(self.outbox, name, bytes(body))
            self.received.append({"routing_key": method.routing_key, "headers": dict(properties.headers or {}),
                                  "persistent": properties.delivery_mode == 2, "name": name})
            channel.basic_ack(method.delivery_tag)
            moved += 1
        return moved

    def publish_receipts(self) -> int:
        names = waiting_files(self.inbox)
        for name in names:
            data = (self.inbox / name).read_bytes()
            found = RECEIVER_ID.search(data[:16384])
            receiver = found.group(1).decode("ascii") if found else "unknown"
            self.publish(name, data, receiver)
            (self.inbox / name).unlink()
        return len(names)

    def publish(self, name: str | None, data: bytes, routing_key: str, headers: dict[str, Any] | None = None) -> None:
        """Publish one message to the receive exchange as customs would (``name`` None: no name at all)."""
        headers = dict(headers or {})
        if name is not None:
            headers.setdefault("file_name", name)
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, message_id=name,
                                          headers=headers or None)
        self._open().basic_publish(self.receive_exchange, routing_key, data, properties, mandatory=True)

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        self._connection = self._channel = None
