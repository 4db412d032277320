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
