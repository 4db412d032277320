"""A pool of N connections (e.g. HSM sessions) behind one :class:`SigningKey`, per replica.

- **Reconnect on failure:** a connection whose ``sign`` raises :class:`BackendUnavailable` is closed
  and replaced; the request is retried on another connection, so a session lost mid-load loses no
  request (up to ``max_attempts`` tries per request).
- **Back-pressure:** callers wait at most ``acquire_timeout`` for a free connection and at most
  ``max_waiting`` callers may wait; beyond that :class:`PoolExhausted` is raised at once.
- **Health check:** :meth:`KeyPool.health_check` signs a probe on every idle connection and checks it
  with the certificate, replacing connections that fail.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cbec.signing.keys import Algorithm, BackendUnavailable, SigningKey, verify_signature

_PROBE = b"cbec-signer pool health probe"


class PoolExhausted(BackendUnavailable):
    """No connection became free in time, or too many callers are already waiting (back-pressure)."""


@dataclass(frozen=True, slots=True)
class PoolStats:
    size: int
    connected: int
    in_use: int
    waiting: int
    signs: int
    reconnects: int
    failures: int


@dataclass(slots=True)
class _Slot:
    key: SigningKey | None = None


def _close(key: SigningKey) -> None:
    close = getattr(key, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # noqa: BLE001 - a broken connection may fail to close; it is dropped anyway
            pass


class KeyPool:
    """``size`` connections made by ``factory``; implements :class:`SigningKey` itself."""

    def __init__(
        self,
        factory: Callable[[], SigningKey],
        size: int = 1,
        *,
        acquire_timeout: float = 5.0,
        max_waiting: int | None = None,
        max_attempts: int = 3,
        retry_backoff: float = 0.02,
    ) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self._factory = factory
        self._size = size
        self._acquire_timeout = acquire_timeout
        self._max_waiting = max_waiting if max_waiting is not None else 64 * size
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
        self._idle: queue.LifoQueue[_Slot] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._waiting = 0
        self._in_use = 0
        self._signs = 0
        self._reconnects = 0
        self._failures = 0
        self._closed = False
        first = factory()
        self.algorithm: Algorithm = first.algorithm
        self.certificate_der: bytes = first.certificate_der
        self.serial_hex: str = first.serial_hex
        self._idle.put(_Slot(first))
        for _ in range(size - 1):
            slot = _Slot()
            try:
                slot.key = self._connect()
            except BackendUnavailable:
                pass  # connected lazily on first use
            self._idle.put(slot)

    def _connect(self) -> SigningKey:
        key = self._factory()
        if key.certificate_der != self.certificate_der:
            _close(key)
            raise ValueError("pool factory returned a key with a different certificate")
        return key

    def _acquire(self) -> _Slot:
        with self._lock:
            if self._closed:
                raise BackendUnavailable("pool is closed")
        try:
            slot = self._idle.get_nowait()
        except queue.Empty:
            slot = self._wait_for_slot()
        with self._lock:
            self._in_use += 1
        return slot

    def _wait_for_slot(self) -> _Slot:
        with self._lock:
            if self._waiting >= self._max_waiting:
                raise PoolExhausted(f"{self._waiting} callers already waiting for a connection")
            self._waiting += 1
        try:
            return self._idle.get(timeout=self._acquire_timeout)
        except queue.Empty:
            raise PoolExhausted(f"no connection free within {self._acquire_timeout}s") from None
        finally:
            with self._lock:
                self._waiting -= 1

    def _release(self, slot: _Slot) -> None:
        with self._lock:
            self._in_use -= 1
        self._idle.put(slot)

    def _discard(self, slot: _Slot) -> None:
        if slot.key is not None:
            _close(slot.key)
            slot.key = None

    def sign(self, data: bytes) -> bytes:
        attempt = 0
        while True:
            slot = self._acquire()
            try:
                if slot.key is None:
                    slot.key = self._connect()
                    with self._lock:
                        self._reconnects += 1
                signature = slot.key.sign(data)
                with self._lock:
                    self._signs += 1
                return signature
            except BackendUnavailable:
                self._discard(slot)
                attempt += 1
                with self._lock:
                    self._failures += 1
                if attempt >= self._max_attempts:
                    raise
            finally:
                self._release(slot)
            time.sleep(self._retry_backoff * attempt)

    def health_check(self) -> int:
        """Probe every idle connection (reconnecting failed ones); returns how many are healthy."""
        checked: list[_Slot] = []
        healthy = 0
        while True:
            try:
                slot = self._idle.get_nowait()
            except queue.Empty:
                break
            checked.append(slot)
            try:
                if slot.key is None:
                    slot.key = self._connect()
                    with self._lock:
                        self._reconnects += 1
                ok = verify_signature(self.algorithm, self.certificate_der, _PROBE, slot.key.sign(_PROBE))
            except BackendUnavailable:
                ok = False
            if ok:
                healthy += 1
            else:
                self._discard(slot)
        for slot in checked:
            self._idle.put(slot)
        return healthy

    def stats(self) -> PoolStats:
        with self._lock:
            idle = list(self._idle.queue)
            connected = sum(1 for s in idle if s.key is not None) + self._in_use
            return PoolStats(
                size=self._size,
                connected=connected,
                in_use=self._in_use,
                waiting=self._waiting,
                signs=self._signs,
                reconnects=self._reconnects,
                failures=self._failures,
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                slot = self._idle.get_nowait()
            except queue.Empty:
                break
            self._discard(slot)

    def __repr__(self) -> str:
        return f"KeyPool(size={self._size}, serial={self.serial_hex})"
