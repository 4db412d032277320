"""A Kafka publisher on aiokafka, for callers that publish in rounds (the outbox relay).

aiokafka builds record batches in C, so it sends tens of thousands of messages a second where
kafka-python manages about a thousand. It is asyncio-only: this adapter keeps a private event
loop in a thread of its own and offers the blocking ``Publisher`` interface on top of it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from cbec.bus.ports import PublishFailed

_Pending = tuple[str, str, bytes, dict[str, str] | None]


class AsyncProducer(Protocol):
    """The part of ``AIOKafkaProducer`` this adapter uses (a fake stands in for it in unit tests)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]: ...


class AioKafkaPublisher:
    """Publishes with ``acks=all`` and the idempotent producer, like ``KafkaPublisher``.

    ``publish`` only buffers; ``flush`` hands the buffer to the producer in publish order, waits
    for every acknowledgement and raises ``PublishFailed`` if any message was refused or not
    acknowledged within ``timeout``. After the first message the producer refuses to take, the
    rest of the buffer is not sent, so nothing overtakes a message that failed. Not meant for
    concurrent ``publish``/``flush`` from several threads (one relay owns one publisher).
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        linger_ms: int = 5,
        max_batch_size: int = 256 * 1024,
        client_id: str = "cbec-publisher",
        start_timeout: float = 60.0,
        producer_factory: Callable[[], AsyncProducer] | None = None,
        **overrides: Any,
    ) -> None:
        config: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "client_id": client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": linger_ms,
            "max_batch_size": max_batch_size,
        }
        config.update(overrides)
        self._buffer: list[_Pending] = []
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"aiokafka-{client_id}", daemon=True)
        self._thread.start()

        async def start() -> AsyncProducer:
            # Built on the private loop: aiokafka binds a producer to the loop that creates it.
            producer = producer_factory() if producer_factory else AIOKafkaProducer(**config)
            await producer.start()
            return producer

        try:
            self._producer = self._run(start(), start_timeout)
        except BaseException:
            self._stop_loop()
            raise

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        if self._closed:
            raise RuntimeError("publisher is closed")
        self._buffer.append((topic, key, value, headers))

    def flush(self, timeout: float | None = None) -> None:
        """Send everything published so far and wait for the broker; raise ``PublishFailed`` if
        any message was not accepted (those after a refused one are not sent at all)."""
        pending, self._buffer = self._buffer, []
        if not pending:
            return
        try:
            failures = self._run(self._send_all(pending), timeout)
        except TimeoutError as error:
            raise PublishFailed(f"{len(pending)} message(s) not acknowledged within {timeout} s") from error
        if failures:
            raise PublishFailed(f"{len(failures)} message(s) not accepted: {failures[0]!r}")

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the producer (sending what it still holds) and its event loop thread."""
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self._producer.stop(), timeout)
        finally:
            self._stop_loop()

    def __enter__(self) -> AioKafkaPublisher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    async def _send_all(self, pending: list[_Pending]) -> list[BaseException]:
        acks: list[Awaitable[Any]] = []
        failures: list[BaseException] = []
        for topic, key, value, headers in pending:
            try:
                acks.append(
                    await self._producer.send(
                        topic,
                        value,
                        key=key.encode("utf-8"),
                        headers=[(k, v.encode("utf-8")) for k, v in (headers or {}).items()],
                    )
                )
            except Exception as error:
                failures.append(error)
                break
        results = await asyncio.gather(*acks, return_exceptions=True)
        return [r for r in results if isinstance(r, BaseException)] + failures

    def _run(self, coroutine: Awaitable[Any], timeout: float | None) -> Any:
        future = asyncio.run_coroutine_threadsafe(_awaited(coroutine), self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
