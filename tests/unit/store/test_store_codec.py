"""Stored event JSON is deterministic and keeps money exact."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from cbec.store import canonical_json, codec, load_json
from hypothesis import given
from hypothesis import strategies as st


def test_decimals_are_written_as_plain_strings_without_losing_digits() -> None:
    data = {"price": Decimal("12.50"), "tax": Decimal("1E+2"), "qty": Decimal("0.00001")}
    assert canonical_json(data) == b'{"price":"12.50","qty":"0.00001","tax":"100"}'


def test_times_dates_and_ids_are_written_as_iso_text() -> None:
    data = {
        "at": datetime(2026, 11, 11, 8, 30, tzinfo=UTC),
        "day": date(2026, 11, 11),
        "id": UUID(int=1),
    }
    assert load_json(canonical_json(data)) == {
        "at": "2026-11-11T08:30:00+00:00",
        "day": "2026-11-11",
        "id": "00000000-0000-0000-0000-000000000001",
    }


def test_chinese_text_is_stored_as_utf8_not_escaped() -> None:
    assert canonical_json({"name": "跨境"}) == '{"name":"跨境"}'.encode()


@pytest.mark.parametrize(
    "value",
    [datetime(2026, 1, 1), Decimal("NaN"), float("inf"), object(), b"raw"],
    ids=["naive-datetime", "nan-decimal", "inf-float", "object", "bytes"],
)
def test_values_that_cannot_round_trip_safely_are_refused(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        canonical_json({"v": value})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_equal_data_gives_equal_bytes_whatever_the_key_order(data: dict[str, object]) -> None:
    reordered = dict(reversed(list(data.items())))
    assert canonical_json(reordered) == canonical_json(data)
    assert canonical_json(load_json(canonical_json(data))) == canonical_json(data)


@given(st.dictionaries(st.text(), json_values | st.floats(allow_nan=False, allow_infinity=False), max_size=6))
def test_reading_gives_what_the_standard_json_reader_gives(data: dict[str, object]) -> None:
    stored = canonical_json(data)
    assert load_json(stored) == json.loads(stored)


@pytest.mark.parametrize("value", [2**63 - 1, 2**63, 2**64, -(2**63), -(2**63) - 1, -(2**70), [1, -(10**30)],
                                   "12345678901234567890", 1.5e300])
def test_integers_beyond_64_bits_are_read_exactly(value: object) -> None:
    assert load_json(canonical_json({"v": value})) == {"v": value}


# What events hold: every leaf type canonical_json writes, floats and 64+-bit integers included (json writes
# those), text over the whole of Unicode (surrogates apart: neither writes them), keys unsorted.
any_event_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=["Cs"]))
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(UTC))
    | st.dates()
    | st.uuids(),
    lambda children: st.lists(children, max_size=4) | st.tuples(children, children)
    | st.dictionaries(st.text(st.characters(blacklist_categories=["Cs"])), children, max_size=4),
    max_leaves=25,
)

_JSON_WRITER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                                default=lambda o: codec._default(o))


@given(st.dictionaries(st.text(), any_event_values, max_size=6))
def test_the_fast_writer_gives_the_bytes_json_gave_so_stored_events_read_back_alike(data: dict[str, object]) -> None:
    written = canonical_json({"data": data, "metadata": {"traceparent": "00-1"}, "recorded_at": datetime.now(UTC)})
    assert written == _JSON_WRITER.encode(json.loads(written)).encode()  # idempotent through a read
    assert canonical_json(data) == _JSON_WRITER.encode(data).encode()


def test_what_the_fast_writer_refuses_is_refused_as_json_refused_it() -> None:
    with pytest.raises(ValueError, match="non-finite Decimal"):
        canonical_json({"data": {"v": Decimal("sNaN")}})
    with pytest.raises(UnicodeEncodeError):
        canonical_json({"name": "\ud800"})
    assert canonical_json({"n": 2**64, "f": 1e-05}) == b'{"f":1e-05,"n":18446744073709551616}'
