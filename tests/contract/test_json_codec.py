"""Messages are read and written by orjson where it gives what ``json`` gives, and by ``json`` elsewhere:
the bytes a message is published as (the webhook body a tenant's HMAC covers) and what a hostile message
is read as, or refused for, do not depend on which of the two did the work."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cbec.contracts.base import ContractError, dump, load_object


def json_bytes(data: Any, *, sort_keys: bool = False) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys).encode()


WRITTEN = [
    {"schema": "cbec.status/1", "businessKey": ["3105960001", "订单0001"], "statusCode": 120, "reason": None,
     "errors": [{"code": "CBEC-0005", "message": "tab\there, \"quoted\", \\ and \x01\x1f\x7f\u2028"}]},
    {"b": 1, "a": {"z": [True, False, None, (1, "t")], "中": -2**63, "y": 2**63 - 1}},
    {"float": 1e-05, "big": 1e16, "third": 1 / 3},  # floats: json's repr, not orjson's 0.00001
    {"beyond 64 bits": 2**64, "negative": -(2**70)},
    {"nan": float("nan"), "inf": float("inf")},
]


@pytest.mark.parametrize("data", WRITTEN)
@pytest.mark.parametrize("sort_keys", [False, True])
def test_a_message_is_written_byte_for_byte_as_json_writes_it(data: dict[str, Any], sort_keys: bool) -> None:
    assert dump(data, sort_keys=sort_keys) == json_bytes(data, sort_keys=sort_keys)


def test_what_json_cannot_write_still_fails_as_it_did() -> None:
    for data in ({"surrogate": "\ud800"}, {"object": object()}):
        with pytest.raises((UnicodeEncodeError, TypeError)):
            json_bytes(data)
        with pytest.raises((UnicodeEncodeError, TypeError)):
            dump(data)


READ = [
    b'{"a":1,"a":2}', b'{"n":NaN,"i":-Infinity}', b'{"big":123456789012345678901234567890}', b'{"s":"\\ud800"}',
    b'{"e":1e400,"z":-0,"f":1.5}', b'\xef\xbb\xbf{"bom":1}', '{"utf16":"中"}'.encode("utf-16"),
    '  {"text": "中文"}\n'.encode(), b'{"nested":' + b"[" * 200 + b"]" * 200 + b"}",
]


@pytest.mark.parametrize("raw", READ)
def test_a_message_is_read_as_json_reads_it(raw: bytes) -> None:
    assert repr(load_object(raw)) == repr(json.loads(raw))


@pytest.mark.parametrize("raw", [b"\xff", b'{"a":1} x', b"[1]", b"[" * 100_000, b'{"a":', b"null"])
def test_what_json_refuses_is_refused_naming_the_json(raw: bytes) -> None:
    with pytest.raises(ContractError) as refused:
        load_object(raw)
    assert [(e.code, e.path, e.rule) for e in refused.value.errors] == [("CBEC-0001", "$", "JSON")]
