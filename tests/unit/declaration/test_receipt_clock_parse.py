"""Customs' returnTime is read exactly as ``strptime("%Y%m%d%H%M%S")`` reads it, plus milliseconds: the
same times, and the same refusals (month 13, 30 February, second 60 …)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cbec.declaration.receipt_clock import CST, parse_return_time
from hypothesis import given
from hypothesis import strategies as st


def by_strptime(text: str) -> datetime | None:
    try:
        moment = datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=CST)
    except ValueError:
        return None
    return moment + timedelta(milliseconds=int(text[14:] or 0))


def two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


near_times = st.builds(lambda *parts: "".join(parts), st.integers(0, 9999).map(lambda n: f"{n:04d}"), two(0, 14),
                       two(0, 33), two(0, 25), two(0, 61), two(0, 62),
                       st.sampled_from(["", "000", "999", "042"]))


@given(st.one_of(near_times, st.text("0123456789", min_size=14, max_size=14),
                 st.text("0123456789", min_size=17, max_size=17)))
def test_a_return_time_reads_as_strptime_reads_it(text: str) -> None:
    assert parse_return_time(text) == by_strptime(text)


def test_examples() -> None:
    assert parse_return_time("20240229235959123") == datetime(2024, 2, 29, 23, 59, 59, 123000, tzinfo=CST)
    full_width = "２０２６０１０１１２００００"
    for refused in ("20260229120000", "20261231235960", "20261301000000", "2026010112000", full_width):
        assert parse_return_time(refused) is None
