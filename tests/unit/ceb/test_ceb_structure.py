"""Structural validation in the product: each XSD facet, named by document, path and code."""

from __future__ import annotations

import cbec_testkit.samples.messages as ex
import pytest
from cbec.ceb.codec import build
from cbec.ceb.model import CebMessage
from cbec.ceb.structure import validate_structure
from cbec.ceb.xsd import xsd_errors
from cbec.errors import CebError


def only(errors: list[CebError]) -> tuple[str, str]:
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0].code, errors[0].path


def order_with(**changes: str | None) -> CebMessage:
    msg = ex.order_message(lines=2)
    for path, value in changes.items():
        where, name = path.split("__")
        holder = msg.docs[0]["OrderHead"] if where == "head" else msg.docs[0]["OrderList"][int(where[4:]) - 1]
        if value is None:
            del holder[name]
        else:
            holder[name] = value
    return msg


@pytest.mark.parametrize(("change", "code", "path"), [
    ({"head__orderNo": None}, "CBEC-REQUIRED", "Order[1].OrderHead.orderNo"),
    ({"head__orderNo": ""}, "CBEC-LENGTH", "Order[1].OrderHead.orderNo"),
    ({"head__orderNo": "x" * 61}, "CBEC-LENGTH", "Order[1].OrderHead.orderNo"),
    ({"head__guid": "A" * 35}, "CBEC-LENGTH", "Order[1].OrderHead.guid"),
    ({"line2__qty": "1.123456"}, "CBEC-DECIMAL", "Order[1].OrderList[2].qty"),
    ({"line2__qty": "12345678901234567890"}, "CBEC-DECIMAL", "Order[1].OrderList[2].qty"),
    ({"line2__qty": "two"}, "CBEC-DECIMAL", "Order[1].OrderList[2].qty"),
    ({"line1__gnum": "1.0"}, "CBEC-INT", "Order[1].OrderList[1].gnum"),
    ({"line1__gnum": "2147483648"}, "CBEC-INT", "Order[1].OrderList[1].gnum"),
    ({"line1__itemName": "a\x01b"}, "CBEC-CHARS", "Order[1].OrderList[1].itemName"),
])  # fmt: skip
def test_each_broken_facet_is_named_by_path_and_agrees_with_the_xsd(
    change: dict[str, str | None], code: str, path: str
) -> None:
    msg = order_with(**change)
    assert only(validate_structure(msg, formats=False)) == (code, path)
    if code != "CBEC-CHARS":  # such text cannot even be serialized
        assert xsd_errors(build(msg), "import") != []


@pytest.mark.parametrize("value", ["  1.5  ", "+1.50000", "0012345678901234.12345", ".5", "5."])
def test_decimal_lexical_forms_the_xsd_accepts_are_accepted(value: str) -> None:
    msg = order_with(line2__qty=value)
    assert validate_structure(msg, formats=False) == []
    assert xsd_errors(build(msg), "import") == []


def test_fixed_currency_must_be_142_but_an_empty_element_takes_the_fixed_value() -> None:
    inv = ex.inventory_message(signature=ex.PLACEHOLDER_SIGNATURE)
    inv.docs[0]["InventoryHead"]["currency"] = "502"
    assert only(validate_structure(inv)) == ("CBEC-FIXED", "Inventory[1].InventoryHead.currency")
    inv.docs[0]["InventoryHead"]["currency"] = ""
    assert validate_structure(inv) == []
    assert xsd_errors(build(inv), "import") == []


def test_errors_name_the_document_by_its_business_key() -> None:
    msg = order_with(line2__qty="x")
    assert f"(Order[1] orderNo={ex.ORDER_NO})" in validate_structure(msg)[0].message


def test_counts_envelope_and_signature_follow_the_root() -> None:
    inv = ex.inventory_message()  # CEB621 requires ds:Signature
    assert only(validate_structure(inv)) == ("CBEC-SIGNATURE", "Signature")
    assert validate_structure(inv, before_signing=True) == []
    no_lines = ex.order_message()
    no_lines.docs[0]["OrderList"] = []
    assert only(validate_structure(no_lines)) == ("CBEC-REQUIRED", "Order[1].OrderList")
    too_many = ex.order_message(lines=100)
    assert only(validate_structure(too_many)) == ("CBEC-COUNT", "Order[1].OrderList")
    receipt = ex.order_receipt()
    receipt.base_transfer = dict(ex.BASE_TRANSFER)
    assert only(validate_structure(receipt)) == ("CBEC-UNEXPECTED", "BaseTransfer")
    unsent = ex.order_message()
    unsent.base_transfer = None
    assert only(validate_structure(unsent)) == ("CBEC-REQUIRED", "BaseTransfer")
    assert only(
        validate_structure(CebMessage(type="CEB311", docs=[], guid=ex.GUID, base_transfer={**ex.BASE_TRANSFER}))
    ) == ("CBEC-REQUIRED", "Order")
    bad_guid = ex.order_message()
    bad_guid.guid = "short"
    assert only(validate_structure(bad_guid)) == ("CBEC-LENGTH", "@guid")


def test_model_shape_errors_are_reported_not_raised() -> None:
    msg = ex.order_message()
    msg.docs[0]["OrderList"][0]["qty"] = 2
    msg.docs[0]["OrderHead"]["colour"] = "red"
    found = {(e.code, e.path) for e in validate_structure(msg)}
    assert found == {
        ("CBEC-TYPE", "Order[1].OrderList[1].qty"),
        ("CBEC-UNEXPECTED", "Order[1].OrderHead.colour"),
    }
    assert only(validate_structure(CebMessage(type="CEB999", docs=[], guid=ex.GUID))) == ("CBEC-ROOT", "/")


@pytest.mark.parametrize(("name", "value"), [
    ("appTime", "2024-03-01 12:"), ("appTime", "20241301120000"), ("appTime", "20240230120000"),
    ("appTime", "20240301246000"), ("appType", "4"), ("appStatus", "3"), ("buyerIdType", "9"),
    ("orderType", "X"),
])  # fmt: skip
def test_spec_formats_beyond_the_xsd_are_checked_unless_formats_is_off(name: str, value: str) -> None:
    msg = ex.order_message()
    msg.docs[0]["OrderHead"][name] = value
    assert validate_structure(msg, formats=False) == []  # the XSD accepts it: only the spec refuses
    errors = validate_structure(msg, formats=True)
    assert [(e.code, e.path) for e in errors] in (
        [("CBEC-FORMAT", f"Order[1].OrderHead.{name}")],
        [("CBEC-CODE", f"Order[1].OrderHead.{name}")],
    )


def test_receipt_time_is_17_digits_and_declaration_date_8() -> None:
    receipt = ex.order_receipt()
    receipt.docs[0]["returnTime"] = "2024030112000512X"
    assert only(validate_structure(receipt)) == ("CBEC-FORMAT", "OrderReturn[1].returnTime")
    inv = ex.inventory_message(signature=ex.PLACEHOLDER_SIGNATURE)
    inv.docs[0]["InventoryHead"]["declTime"] = "20240231"
    assert only(validate_structure(inv)) == ("CBEC-FORMAT", "Inventory[1].InventoryHead.declTime")


@pytest.mark.parametrize("value", ["١٠", "１０", "1.٥"])
def test_digits_outside_ascii_are_refused_as_the_xsd_refuses_them(value: str) -> None:
    msg = order_with(head__freight=value)
    assert only(validate_structure(msg)) == ("CBEC-DECIMAL", "Order[1].OrderHead.freight")
    assert xsd_errors(build(msg), "import")
