"""Lenient parsing never drops data silently: every element it cannot place is a warning with its
path and (masked where it may be personal) value; a wrong-case name gets a hint; each problem once."""

from __future__ import annotations

import cbec_testkit.samples.messages as ex
import pytest
from cbec.ceb.codec import build, parse
from cbec.errors import CebError, CebValidationError
from lxml import etree

NS = "http://www.chinaport.gov.cn/ceb"


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _order_xml(edit: object) -> bytes:
    """The example order with ``edit(root)`` applied to its parsed tree."""
    root = etree.fromstring(build(ex.order_message()))
    edit(root)  # type: ignore[operator]
    return etree.tostring(root)


def _rename(parent_path: str, old: str, new: str) -> object:
    def edit(root: etree._Element) -> None:
        el = root.find(f"{parent_path}/{_q(old)}".replace("ceb:", f"{{{NS}}}"))
        assert el is not None
        el.tag = _q(new)

    return edit


def _one(warnings: list[CebError], code: str, path: str) -> CebError:
    found = [w for w in warnings if (w.code, w.path) == (code, path)]
    assert len(found) == 1, warnings
    return found[0]


def test_a_wrong_case_field_is_reported_with_its_value_and_the_real_spelling() -> None:
    line = ex.order_message().docs[0]["OrderList"][0]
    xml = _order_xml(_rename("ceb:Order/ceb:OrderList", "gmodel", "gModel"))
    msg = parse(xml, strict=False)
    assert "gmodel" not in msg.docs[0]["OrderList"][0] and "gModel" not in msg.docs[0]["OrderList"][0]
    dropped = _one(msg.warnings, "CBEC-UNEXPECTED", "Order[1].OrderList[1].gModel")
    assert "did you mean gmodel?" in dropped.message
    assert repr(line["gmodel"]) in dropped.message and "not kept" in dropped.message
    _one(msg.warnings, "CBEC-REQUIRED", "Order[1].OrderList[1].gmodel")
    with pytest.raises(CebValidationError) as strict:
        parse(xml)
    assert "did you mean gmodel?" in str(strict.value)


def test_personal_data_in_an_element_that_could_not_be_placed_is_masked() -> None:
    def edit(root: etree._Element) -> None:
        head = root.find(f"{_q('Order')}/{_q('OrderHead')}")
        assert head is not None
        head.find(_q("buyerName")).tag = _q("BuyerName")  # type: ignore[union-attr]
        head.find(_q("buyerIdNumber")).tag = _q("buyerIDNumber")  # type: ignore[union-attr]
        etree.SubElement(head, _q("receiverMobile")).text = "13812345678"
        etree.SubElement(head, _q("remark")).text = "call 13987654321, id 110101199003074514"
        etree.SubElement(head, _q("Note")).text = "ring 13700001111 at the gate"

    head = ex.order_message().docs[0]["OrderHead"]
    msg = parse(_order_xml(edit), strict=False)
    text = "\n".join(str(w) for w in msg.warnings)
    for secret in (head["buyerName"], head["buyerIdNumber"], "13812345678", "13987654321", "110101199003074514",
                   "13700001111"):
        assert secret not in text
    # a declared field without personal data is shown, with the phone number in it masked
    assert "'ring 1*********1 at the gate'" in _one(msg.warnings, "CBEC-UNEXPECTED", "Order[1].OrderHead.Note").message
    assert "did you mean buyerName?" in _one(msg.warnings, "CBEC-UNEXPECTED", "Order[1].OrderHead.BuyerName").message
    assert "did you mean buyerIdNumber?" in text
    assert _one(msg.warnings, "CBEC-UNEXPECTED", "Order[1].OrderHead.receiverMobile").message.count("*") >= 9


def test_long_or_multi_line_values_are_shown_truncated_on_one_line() -> None:
    def edit(root: etree._Element) -> None:
        line = root.find(f"{_q('Order')}/{_q('OrderList')}")
        assert line is not None
        etree.SubElement(line, _q("itemname")).text = "first line\nforged: line [CBEC-OK]\n" + "x" * 5000

    msg = parse(_order_xml(edit), strict=False)
    dropped = _one(msg.warnings, "CBEC-UNEXPECTED", "Order[1].OrderList[1].itemname")
    assert "\n" not in str(dropped) and len(dropped.message) < 300
    assert "did you mean itemName?" in dropped.message and "…" in dropped.message


def test_a_wrong_case_complex_element_names_what_it_held() -> None:
    msg = parse(_order_xml(_rename("ceb:Order", "OrderHead", "orderHead")), strict=False)
    dropped = _one(msg.warnings, "CBEC-UNEXPECTED", "Order[1].orderHead")
    assert "did you mean OrderHead?" in dropped.message
    n = len(ex.order_message().docs[0]["OrderHead"])
    assert f"its {n} child elements (guid, appType, appTime, appStatus, orderType, …) were not kept" in dropped.message
    _one(msg.warnings, "CBEC-REQUIRED", "Order[1].OrderHead")


def test_a_duplicated_field_keeps_the_first_and_reports_the_value_it_dropped() -> None:
    def edit(root: etree._Element) -> None:
        order_no = root.find(f"{_q('Order')}/{_q('OrderHead')}/{_q('orderNo')}")
        assert order_no is not None
        twin = etree.Element(_q("orderNo"))
        twin.text = "SECOND-NO"
        order_no.addnext(twin)

    msg = parse(_order_xml(edit), strict=False)
    assert msg.docs[0]["OrderHead"]["orderNo"] == ex.ORDER_NO
    assert "'SECOND-NO'" in _one(msg.warnings, "CBEC-DUPLICATE", "Order[1].OrderHead.orderNo").message


def test_an_undeclared_root_child_and_attribute_report_their_values() -> None:
    def edit(root: etree._Element) -> None:
        etree.SubElement(root, _q("baseTransfer")).text = "x"
        root.set("Guid", "G-1")

    msg = parse(_order_xml(edit), strict=False)
    assert "did you mean BaseTransfer?" in _one(msg.warnings, "CBEC-UNEXPECTED", "baseTransfer").message
    assert "'G-1'" in _one(msg.warnings, "CBEC-UNEXPECTED", "@Guid").message


def test_each_problem_is_reported_once() -> None:
    xml = _order_xml(_rename("ceb:Order/ceb:OrderList", "gmodel", "gModel"))
    warnings = parse(xml, strict=False).warnings
    assert len({(w.code, w.path) for w in warnings}) == len(warnings) == 2


def test_a_namespace_less_receipt_is_accepted_leniently_with_a_warning() -> None:
    xml = build(ex.order_receipt())
    bare = xml.replace(b"ceb:", b"").replace(b' xmlns:ceb="http://www.chinaport.gov.cn/ceb"', b"")
    assert b"chinaport" not in bare
    with pytest.raises(CebValidationError) as strict:
        parse(bare)
    assert [e.code for e in strict.value.errors] == ["CBEC-NAMESPACE"]
    assert "--lenient" in str(strict.value) or "lenient" in str(strict.value)
    msg = parse(bare, strict=False)
    assert msg == parse(xml)
    assert [w.code for w in msg.warnings] == ["CBEC-NAMESPACE"]


def test_a_namespace_less_message_keeps_its_extend_message_content_as_it_was() -> None:
    msg = ex.order_message()
    msg.extend_message = {"name": "n", "version": "1", "Message": "<note>free</note>"}
    xml = build(msg).replace(b"ceb:", b"").replace(b' xmlns:ceb="http://www.chinaport.gov.cn/ceb"', b"")
    parsed = parse(xml, strict=False)
    assert parsed.extend_message == msg.extend_message
    assert parsed.docs == msg.docs


def test_unknown_namespace_less_roots_are_still_refused() -> None:
    with pytest.raises(CebValidationError) as err:
        parse(b'<CEB999Message guid="x" version="1"/>', strict=False)
    assert err.value.errors[0].code == "CBEC-ROOT"
