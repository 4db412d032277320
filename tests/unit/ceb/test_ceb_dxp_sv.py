"""``DxpMsgSv``: receipts between DXP transport nodes (a ``SvNo`` wrapping a ``DxpMsg``) are unwrapped."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

import pytest
from cbec.ceb.codec import message_type_of, parse
from cbec.ceb.dxp import CST, is_dxp, unwrap, wrap
from cbec.ceb.xsd import xsd_errors
from cbec.errors import CebValidationError

DATA = Path(__file__).resolve().parents[2] / "data" / "dxp"
SAMPLE = DATA / "DxpMsgSv-CEB312.xml"
DXP_NS = "http://www.chinaport.gov.cn/dxp"
SV_NO = (b"<SvNo Ver='1.0'><MsgId>00000001202612071000050000000001</MsgId><SendTime>2026-12-07T10:00:05"
         b"</SendTime><EndNode>NODE0002</EndNode><StaNode>NODE0001</StaNode></SvNo>")


def _sv(inner: bytes, sv_no: bytes = SV_NO) -> bytes:
    """A DxpMsgSv around ``inner`` (a DxpMsg element without its XML declaration, or anything)."""
    return b"<DxpMsgSv xmlns='" + DXP_NS.encode() + b"' ver='1.0'>" + sv_no + inner + b"</DxpMsgSv>"


def _dxp_msg(data: bytes) -> bytes:
    return wrap(data, msg_type="CEB312", sender_id="DXPEDCCEB0000002", receiver_ids=["DXPENT0000000001"]).split(
        b"?>", 1)[1]


def test_the_sample_is_what_the_official_transport_xsd_declares() -> None:
    assert xsd_errors(SAMPLE.read_bytes(), "dxp") == []


def test_a_dxp_msg_sv_unwraps_to_the_receipt_it_carries_with_its_server_numbers() -> None:
    raw = SAMPLE.read_bytes()
    assert is_dxp(raw)
    env = unwrap(raw)
    assert env.data == (DATA / "receipt-CEB312.xml").read_bytes()
    assert (env.msg_type, env.sender_id, env.receiver_ids) == ("CEB312Message", "DXPEDCCEB0000002",
                                                               ["DXPENT0000000001"])
    assert env.created == datetime(2026, 12, 7, 10, 0, 5, tzinfo=CST)
    assert env.server is not None
    assert env.server.msg_id == "00000001202612071000050000000001"
    assert (env.server.sta_node, env.server.end_node, env.server.sub_msg_id) == ("NODE0001", "NODE0002", None)
    assert message_type_of(raw) == "CEB312"
    assert parse(env.data).docs[0]["orderNo"] == "SV-ORDER-0001"


def test_a_plain_dxp_msg_has_no_server_numbers() -> None:
    env = unwrap(wrap(b"<x/>", msg_type="CEB311", sender_id="S", receiver_ids=["R"]))
    assert env.server is None and env.data == b"<x/>"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_sv(_dxp_msg(b"<x/>"), sv_no=b""), "SvNo"),
        (_sv(b""), "DxpMsg"),
        (_sv(_sv(_dxp_msg(b"<x/>"))), "DxpMsg"),  # an envelope in an envelope: refused, not recursed
        (_sv(_dxp_msg(b"<x/>") + _dxp_msg(b"<y/>")), "one DxpMsg"),
        (_sv(_dxp_msg(b"<x/>"), sv_no=SV_NO.replace(b"<MsgId>00000001202612071000050000000001</MsgId>", b"")),
         "MsgId"),
        (_sv(_dxp_msg(b"<x/>"), sv_no=SV_NO.replace(b"2026-12-07T10:00:05", b"yesterday")), "SendTime"),
        (_sv(_dxp_msg(b"<x/>").replace(DXP_NS.encode(), b"urn:other")), "DxpMsg"),  # a foreign DxpMsg
    ],
)
def test_a_malformed_dxp_msg_sv_is_refused_with_the_field_it_lacks(raw: bytes, expected: str) -> None:
    with pytest.raises(CebValidationError) as err:
        unwrap(raw)
    assert err.value.errors[0].code == "CBEC-DXP"
    assert expected in str(err.value)


def test_hostile_input_inside_a_dxp_msg_sv_is_refused_by_the_safe_parser() -> None:
    doctype = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    with pytest.raises(CebValidationError, match="DOCTYPE"):
        unwrap(doctype + _sv(_dxp_msg(b"<x/>")))
    bomb = base64.b64encode(doctype + b"<r>&x;</r>")
    env = unwrap(_sv(_dxp_msg(b"<x/>")).replace(base64.b64encode(b"<x/>"), bomb))
    with pytest.raises(CebValidationError, match="DOCTYPE"):
        parse(env.data, strict=False)
    with pytest.raises(CebValidationError, match="limit"):
        unwrap(SAMPLE.read_bytes(), max_bytes=100)
