"""The generic codec: build is XSD-valid, parse(build(x)) == x, parsing is safe and prefix-agnostic."""

from __future__ import annotations

import copy

import cbec_testkit.samples.messages as ex
import pytest
from cbec.ceb.codec import build, message_type_of, parse
from cbec.ceb.compiled import all_types, root_for
from cbec.ceb.model import CebMessage
from cbec.ceb.xsd import xsd_errors
from cbec.errors import CebValidationError
from lxml import etree

NS = "http://www.chinaport.gov.cn/ceb"


def test_order_with_lines_builds_xsd_valid_xml_and_parses_back_equal() -> None:
    msg = ex.order_message(lines=3)
    xml = build(msg)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert b"<ceb:CEB311Message" in xml
    assert xsd_errors(xml, "import") == []
    assert parse(xml) == msg


def test_order_receipt_builds_xsd_valid_and_round_trips() -> None:
    msg = ex.order_receipt()
    xml = build(msg)
    assert xsd_errors(xml, "import") == []
    back = parse(xml)
    assert back == msg
    assert back.docs[0]["returnStatus"] == "2"


def test_full_batch_of_100_orders_with_99_lines_is_xsd_valid() -> None:
    msg = ex.order_message(lines=99, docs=100)
    xml = build(msg)
    assert xsd_errors(xml, "import") == []
    assert parse(xml) == msg


def test_signature_goes_last_on_import_and_before_extend_message_on_export() -> None:
    imp = ex.inventory_message(signature=ex.PLACEHOLDER_SIGNATURE)
    imp.extend_message = {"name": "x", "version": "1", "Message": '<a xmlns="urn:x">1</a>'}
    root = etree.fromstring(build(imp))
    assert [etree.QName(c).localname for c in root][-3:] == ["BaseTransfer", "ExtendMessage", "Signature"]
    assert xsd_errors(build(imp), "import") == []

    exp = parse(ex_export_order())
    exp.signature = ex.PLACEHOLDER_SIGNATURE
    exp.extend_message = {"name": "x", "version": "1", "Message": ""}
    xml = build(exp)
    assert [etree.QName(c).localname for c in etree.fromstring(xml)][-2:] == ["Signature", "ExtendMessage"]
    assert xsd_errors(xml, "export") == []
    assert parse(xml) == exp


def ex_export_order() -> bytes:
    from ceb_samples import samples_dir

    raw = (samples_dir() / "export" / "CEB303Message.xml").read_bytes()
    return build(parse(raw, strict=False))


def test_signature_and_extend_message_survive_a_round_trip_byte_for_byte() -> None:
    msg = ex.inventory_message(signature=ex.PLACEHOLDER_SIGNATURE)
    msg.extend_message = {"name": "n", "version": "1", "Message": '<e:x xmlns:e="urn:e">v</e:x>'}
    back = parse(build(msg))
    assert back.signature == ex.PLACEHOLDER_SIGNATURE
    assert back == msg


def test_absent_optional_fields_are_omitted_and_empty_strings_kept() -> None:
    msg = ex.order_message()
    msg.docs[0]["OrderHead"]["note"] = ""
    xml = build(msg)
    assert b"consigneeDistrict" not in xml
    assert parse(xml).docs[0]["OrderHead"]["note"] == ""


def test_receipts_in_a_default_namespace_parse_like_prefixed_ones() -> None:
    xml = build(ex.order_receipt())
    unprefixed = xml.replace(b"ceb:", b"").replace(b"xmlns:ceb=", b"xmlns=")
    other = xml.replace(b"ceb:", b"x:").replace(b"xmlns:ceb=", b"xmlns:x=")
    assert parse(unprefixed) == parse(xml) == parse(other)


def test_every_root_of_both_xsds_has_a_table() -> None:
    assert len(all_types()) == 19 + 23
    assert root_for("CEB311Message").kind == "import" and root_for("CEB792").kind == "export"


def test_message_type_of_reads_the_root_and_dxp_envelopes() -> None:
    from cbec.ceb.dxp import wrap

    xml = build(ex.order_receipt())
    assert message_type_of(xml) == "CEB312"
    wrapped = wrap(xml, msg_type="CEB312", sender_id="DXPEDCCEB0000002", receiver_ids=["DXPENT0000000001"])
    assert message_type_of(wrapped) == "CEB312"


@pytest.mark.parametrize(
    "hostile",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><r>&b;</r>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'.encode("utf-16"),
    ],
)
def test_xxe_and_entity_expansion_inputs_get_a_clear_error(hostile: bytes) -> None:
    with pytest.raises(CebValidationError, match="DOCTYPE|ENTITY"):
        parse(hostile)


def test_oversized_and_malformed_input_is_refused() -> None:
    with pytest.raises(CebValidationError, match="limit"):
        parse(build(ex.order_message()), max_bytes=100)
    with pytest.raises(CebValidationError, match="well-formed"):
        parse(b"<ceb:CEB311Message xmlns:ceb='x'>")


def test_unknown_root_is_refused_even_in_lenient_mode() -> None:
    with pytest.raises(CebValidationError, match="not a CEB 2022-05 message"):
        parse(f'<CEB999Message xmlns="{NS}" guid="x" version="1"/>'.encode(), strict=False)


def test_strict_parse_names_unknown_out_of_order_and_missing_elements() -> None:
    root = etree.fromstring(build(ex.order_message()))
    head = root.find(f"{{{NS}}}Order/{{{NS}}}OrderHead")
    assert head is not None
    order_no = head.find(f"{{{NS}}}orderNo")
    assert order_no is not None
    head.remove(order_no)
    head.append(order_no)  # now after consigneeAddress
    etree.SubElement(head, f"{{{NS}}}bogus").text = "1"
    head.remove(head.find(f"{{{NS}}}ebpName"))  # type: ignore[arg-type]
    xml = etree.tostring(root)
    with pytest.raises(CebValidationError) as err:
        parse(xml)
    found = {(e.code, e.path) for e in err.value.errors}
    assert ("CBEC-ORDER", "Order[1].OrderHead.orderNo") in found
    assert ("CBEC-UNEXPECTED", "Order[1].OrderHead.bogus") in found
    assert ("CBEC-REQUIRED", "Order[1].OrderHead.ebpName") in found
    lenient = parse(xml, strict=False)
    assert lenient.docs[0]["OrderHead"]["orderNo"] == ex.ORDER_NO
    assert len(lenient.warnings) == 3


def test_build_refuses_non_string_values_and_unknown_fields() -> None:
    msg = ex.order_message()
    bad = copy.deepcopy(msg)
    bad.docs[0]["OrderList"][0]["qty"] = 2
    with pytest.raises(CebValidationError, match=r"Order\[1\]\.OrderList\[1\]\.qty"):
        build(bad)
    bad = copy.deepcopy(msg)
    bad.docs[0]["OrderHead"]["orderno"] = "x"
    with pytest.raises(CebValidationError, match="orderno"):
        build(bad)
    with pytest.raises(CebValidationError, match="unknown message type"):
        build(CebMessage(type="CEB999", docs=[], guid="x"))


def test_strict_parse_refuses_more_than_100_documents_or_99_lines() -> None:
    from cbec.ceb.structure import validate_structure

    many = ex.order_message(docs=101)
    long = ex.order_message(lines=100)
    for msg, path in ((many, "Order"), (long, "Order[1].OrderList")):
        xml = build(msg)
        assert xsd_errors(xml, "import") != []
        with pytest.raises(CebValidationError) as err:
            parse(xml)
        assert [(e.code, e.path) for e in err.value.errors] == [("CBEC-COUNT", path)]
        lenient = parse(xml, strict=False)
        assert lenient == msg and [w.code for w in lenient.warnings] == ["CBEC-COUNT"]
        assert [e.code for e in validate_structure(lenient)] == ["CBEC-COUNT"]


def test_deeply_nested_input_is_refused_by_the_depth_limit() -> None:
    deep = b"<a>" * 300 + b"</a>" * 300
    with pytest.raises(CebValidationError, match="well-formed"):
        parse(deep)


def test_strict_parse_refuses_stray_text_and_undeclared_root_attributes() -> None:
    xml = build(ex.order_message())
    stray = xml.replace(b"<ceb:OrderHead>", b"<ceb:OrderHead>junk")
    attr = xml.replace(b' version="1.0"', b' version="1.0" colour="red"')
    xsi = xml.replace(
        b' version="1.0"',
        b' version="1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="a b"',
    )
    for bad in (stray, attr):
        assert xsd_errors(bad, "import") != []
        with pytest.raises(CebValidationError, match="junk|text of its own|colour"):
            parse(bad)
        assert parse(bad, strict=False) == parse(xml)
    assert xsd_errors(xsi, "import") == []
    assert parse(xsi) == parse(xml)
