"""The key pool: reconnects lost connections without losing requests, health-checks, back-pressure."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.keys import BackendUnavailable, verify_signature
from cbec.signing.pool import KeyPool, PoolExhausted
from cbec.signing.sm2 import SoftwareSM2Key


class FlakySession:
    """A connection that is lost (forever) after ``lifetime`` signatures, like a dropped HSM session."""

    def __init__(self, key: SoftwareSM2Key, lifetime: int, delay: float = 0.0) -> None:
        self._key = key
        self._left = lifetime
        self._delay = delay
        self.closed = False
        self.reported_lost = False
        self.algorithm = key.algorithm
        self.certificate_der = key.certificate_der
        self.serial_hex = key.serial_hex

    def sign(self, data: bytes) -> bytes:
        if self.closed or self._left <= 0:
            self.reported_lost = True
            raise BackendUnavailable("session lost")
        self._left -= 1
        if self._delay:
            time.sleep(self._delay)
        return self._key.sign(data)

    def close(self) -> None:
        self.closed = True


def test_sessions_lost_mid_load_lose_no_request(sm2_key: SoftwareSM2Key) -> None:
    created: list[FlakySession] = []

    def connect() -> FlakySession:
        created.append(FlakySession(sm2_key, lifetime=17))
        return created[-1]

    pool = KeyPool(connect, size=3, retry_backoff=0)
    messages = [f"request {i}".encode() for i in range(200)]
    with ThreadPoolExecutor(6) as executor:
        signatures = list(executor.map(pool.sign, messages))
    assert all(
        verify_signature("SM2", sm2_key.certificate_der, m, s) for m, s in zip(messages, signatures, strict=True)
    )
    stats = pool.stats()
    assert stats.signs == 200
    assert stats.reconnects >= 200 // 17 - 3
    assert stats.failures >= 1
    assert all(s.closed for s in created if s.reported_lost)  # lost sessions were closed, not leaked


def test_a_request_fails_only_after_every_retry_fails(sm2_key: SoftwareSM2Key) -> None:
    good = FlakySession(sm2_key, lifetime=1)  # serves the pool's construction only
    sessions = iter([good])

    def connect() -> FlakySession:
        return next(sessions, FlakySession(sm2_key, lifetime=0))

    pool = KeyPool(connect, size=1, max_attempts=3, retry_backoff=0)
    assert pool.sign(b"first")
    with pytest.raises(BackendUnavailable):
        pool.sign(b"second")
    assert pool.stats().failures == 3


def test_health_check_replaces_a_dead_connection(sm2_key: SoftwareSM2Key) -> None:
    created: list[FlakySession] = []

    def connect() -> FlakySession:
        created.append(FlakySession(sm2_key, lifetime=100))
        return created[-1]

    pool = KeyPool(connect, size=2)
    assert pool.health_check() == 2
    created[0].closed = True
    assert pool.health_check() == 1  # the dead one is found and dropped ...
    assert pool.health_check() == 2  # ... and reconnected on the next round
    assert len(created) == 3


def test_back_pressure_when_every_connection_is_busy(sm2_key: SoftwareSM2Key) -> None:
    pool = KeyPool(lambda: FlakySession(sm2_key, lifetime=100, delay=0.3), size=1, acquire_timeout=0.05, max_waiting=1)
    busy = threading.Thread(target=pool.sign, args=(b"slow",))
    busy.start()
    time.sleep(0.05)
    with pytest.raises(PoolExhausted):
        pool.sign(b"must wait too long")
    busy.join()
    assert pool.sign(b"now free")


def test_too_many_waiters_are_refused_at_once(sm2_key: SoftwareSM2Key) -> None:
    pool = KeyPool(lambda: FlakySession(sm2_key, lifetime=100, delay=0.3), size=1, acquire_timeout=5, max_waiting=0)
    busy = threading.Thread(target=pool.sign, args=(b"slow",))
    busy.start()
    time.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(PoolExhausted, match="waiting"):
        pool.sign(b"refused")
    assert time.monotonic() - started < 0.2
    busy.join()


def test_a_reconnect_to_a_different_certificate_is_refused(sm2_key: SoftwareSM2Key) -> None:
    other = SoftwareSM2Key.from_pem(*generate_sm2_identity("X", "Y"))
    keys = iter([FlakySession(sm2_key, lifetime=0), FlakySession(other, lifetime=10)])
    pool = KeyPool(lambda: next(keys), size=1, retry_backoff=0)
    with pytest.raises(ValueError, match="different certificate"):
        pool.sign(b"x")
