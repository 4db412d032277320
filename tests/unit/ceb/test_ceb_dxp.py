"""The DxpMsg envelope: wrap is valid against the DXP XSD, unwrap gives back the same bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import cbec_testkit.samples.messages as ex
import pytest
from cbec.ceb.codec import build
from cbec.ceb.dxp import CST, dxp_file_name, unwrap, wrap
from cbec.ceb.xsd import xsd_errors
from cbec.errors import CebValidationError


def test_wrapped_order_is_dxp_valid_and_unwraps_to_the_same_bytes() -> None:
    business = build(ex.order_message())
    when = datetime(2024, 3, 1, 4, 0, 0, tzinfo=UTC)
    xml = wrap(
        business,
        msg_type="CEB311",
        sender_id="DXPENT0000000001",
        receiver_ids=["DXPEDCCEB0000002"],
        cop_msg_id="COP-1",
        created=when,
        file_name="CEB311Message_x.xml",
    )
    assert xsd_errors(xml, "dxp") == []
    assert b"<dxp:CreatTime>2024-03-01T12:00:00</dxp:CreatTime>" in xml  # CST
    env = unwrap(xml)
    assert env.data == business
    assert (env.cop_msg_id, env.sender_id) == ("COP-1", "DXPENT0000000001")
    assert env.receiver_ids == ["DXPEDCCEB0000002"]
    assert env.msg_type == "CEB311Message"
    assert env.created == when and env.created.tzinfo == CST
    assert env.file_name == "CEB311Message_x.xml"


def test_wrap_generates_an_uppercase_uuid_and_accepts_biz_keys() -> None:
    xml = wrap(
        b"<x/>",
        msg_type="CEB312Message",
        sender_id="S",
        receiver_ids=["R1", "R2"],
        ic_card="IC1",
        biz_keys={"DealFlag": "1"},
    )
    assert xsd_errors(xml, "dxp") == []
    env = unwrap(xml)
    assert len(env.cop_msg_id) == 36 and env.cop_msg_id == env.cop_msg_id.upper()
    assert env.receiver_ids == ["R1", "R2"] and env.biz_keys == {"DealFlag": "1"} and env.ic_card == "IC1"


def test_wrap_refuses_receiver_lists_the_xsd_refuses() -> None:
    with pytest.raises(CebValidationError):
        wrap(b"<x/>", msg_type="CEB311", sender_id="S", receiver_ids=[])
    with pytest.raises(CebValidationError):
        wrap(b"<x/>", msg_type="CEB311", sender_id="S", receiver_ids=["R"] * 6)


def test_unwrap_refuses_bad_base64_and_foreign_roots() -> None:
    good = wrap(b"<x/>", msg_type="CEB311", sender_id="S", receiver_ids=["R"])
    with pytest.raises(CebValidationError, match="base64"):
        unwrap(good.replace(b"PHgvPg==", b"!!!"))
    with pytest.raises(CebValidationError, match="DxpMsg"):
        unwrap(b"<a/>")


def test_file_name_follows_the_project_pattern() -> None:
    name = dxp_file_name("CEB311", "1105910159", datetime(2024, 3, 1, 12, 0, 5), 7)
    assert name == "CEB311Message_1105910159_20240301120005_00007.xml"
    assert (
        dxp_file_name("CEB621Message", "1105910159", datetime(2024, 3, 1, 4, 0, 5, tzinfo=UTC), 99999)
        == "CEB621Message_1105910159_20240301120005_99999.xml"
    )
    with pytest.raises(ValueError):
        dxp_file_name("CEB311", "123", datetime(2024, 1, 1), 1)
    with pytest.raises(ValueError):
        dxp_file_name("CEB311", "1105910159", datetime(2024, 1, 1), 100000)
