"""Findings the XML catalogue (tests/hostile) exposed: one line per finding, and bounded work for
a message of endless repeated lines."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cbec.ceb.codec import PARSED_MAX, parse
from cbec.ceb.safe_xml import parse_xml
from cbec.errors import CebValidationError

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "ceb-202205" / "samples" / "import" / "CEB311Message.xml"


def test_a_syntax_error_is_one_line_even_when_the_parser_quotes_the_input() -> None:
    xml = SAMPLE.read_bytes().replace(b"<ceb:OrderHead>", b"<!-- never closed\n<ceb:OrderHead>", 1)
    with pytest.raises(CebValidationError) as refused:
        parse_xml(xml)
    assert [e.code for e in refused.value.errors] == ["CBEC-XML"]
    assert "\n" not in str(refused.value.errors[0])


def test_200000_empty_lines_are_counted_past_the_parsed_maximum_not_each_checked() -> None:
    xml = (b'<ceb:CEB311Message guid="x" version="1.0" xmlns:ceb="http://www.chinaport.gov.cn/ceb"><ceb:Order>'
           + b"<ceb:OrderList/>" * 200_000 + b"</ceb:Order></ceb:CEB311Message>")
    started = time.monotonic()
    with pytest.raises(CebValidationError) as refused:
        parse(xml)
    assert time.monotonic() - started < 2.0
    codes = [e.code for e in refused.value.errors]
    assert codes.count("CBEC-COUNT") == 1 and len(codes) < 20 * PARSED_MAX


def test_documents_past_the_parsed_maximum_are_counted_in_one_finding() -> None:
    xml = (b'<ceb:CEB311Message guid="x" version="1.0" xmlns:ceb="http://www.chinaport.gov.cn/ceb">'
           + b"<ceb:Order/>" * 50_000 + b"</ceb:CEB311Message>")
    with pytest.raises(CebValidationError) as refused:
        parse(xml)
    codes = [e.code for e in refused.value.errors]
    assert codes.count("CBEC-COUNT") == 1 and len(codes) < 5 * PARSED_MAX


def test_a_business_key_with_a_line_break_cannot_forge_a_finding_line() -> None:
    import cbec_testkit.samples.messages as ex
    from cbec.ceb.rules import validate_business
    from cbec.ceb.structure import validate_structure

    msg = ex.order_message()
    head = msg.docs[0]["OrderHead"]
    head["orderNo"] = "A-1\nforged.path: all fine [CBEC-OK]"
    head["appType"] = "9"  # a structural finding, which names the document by its key
    head["acturalPaid"] = "1"  # a business finding, likewise
    findings = validate_structure(msg) + validate_business(msg)
    assert {f.code for f in findings} >= {"CBEC-CODE", "CBEC-ACTURAL-PAID"}
    assert all("\n" not in str(f) and "orderNo=A-1 forged.path" in str(f) for f in findings)
