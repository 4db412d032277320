"""The clock port: real time is UTC-aware; the fake one moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from cbec.clock import Clock, FakeClock, SystemClock


def test_the_system_clock_tells_timezone_aware_utc() -> None:
    now = SystemClock().now()
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_fake_clock_stands_still_until_advanced() -> None:
    clock = FakeClock(datetime(2026, 11, 11, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2026, 11, 11, tzinfo=UTC)
    clock.advance(minutes=30)
    clock.advance(timedelta(seconds=5))
    assert clock.now() == datetime(2026, 11, 11, 0, 30, 5, tzinfo=UTC)


def test_a_fake_clock_reports_china_time_as_utc() -> None:
    cst = timezone(timedelta(hours=8))
    clock = FakeClock(datetime(2026, 11, 11, 8, 0, tzinfo=cst))
    assert clock.now() == datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
    assert clock.now().tzinfo == UTC


def test_a_fake_clock_refuses_naive_times_and_running_backwards() -> None:
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 1, 1))
    clock = FakeClock()
    with pytest.raises(ValueError):
        clock.advance(seconds=-1)
    with pytest.raises(ValueError):
        clock.set(clock.now() - timedelta(days=1))


def test_both_clocks_satisfy_the_port() -> None:
    assert isinstance(SystemClock(), Clock)
    assert isinstance(FakeClock(), Clock)
