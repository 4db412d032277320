"""Each party sees only the personal data its role needs."""

from __future__ import annotations

from typing import Any

from cbec.privacy.masking import mask_document, mask_value, viewer_roles
from cbec_testkit.samples import PAYMENT_COMPANY, PLATFORM, declare_orders

LOGISTICS = "3105960003"
OPERATOR = "3105960005"


def an_order() -> dict[str, Any]:
    return declare_orders(1)[0].document


def a_payment(order: dict[str, Any]) -> dict[str, Any]:
    head = order["OrderHead"]
    return {
        "PaymentHead": {
            "payCode": PAYMENT_COMPANY,
            "ebpCode": head["ebpCode"],
            "orderNo": head["orderNo"],
            "payerName": head["buyerName"],
            "payerIdNumber": head["buyerIdNumber"],
            "telephone": head["buyerTelephone"],
            "amountPaid": head["acturalPaid"],
        }
    }


def test_the_declaring_platform_sees_the_whole_order() -> None:
    order = an_order()
    assert mask_document(order, viewer_roles(PLATFORM, order, PLATFORM)) == order


def test_a_payment_company_sees_no_buyer_data_on_the_order() -> None:
    order = an_order()
    roles = viewer_roles(PAYMENT_COMPANY, order, PLATFORM)
    assert roles == {"payment"}
    head = mask_document(order, roles)["OrderHead"]
    original = order["OrderHead"]
    for name in ("buyerName", "buyerIdNumber", "buyerTelephone", "consignee", "consigneeTelephone"):
        assert head[name] != original[name] and "*" in head[name]
    assert head["orderNo"] == original["orderNo"] and head["acturalPaid"] == original["acturalPaid"]


def test_a_payment_company_sees_the_payer_of_its_own_payment() -> None:
    payment = a_payment(an_order())
    shown = mask_document(payment, viewer_roles(PAYMENT_COMPANY, payment, PAYMENT_COMPANY))
    assert shown == payment


def test_a_site_operator_sees_no_personal_data_and_the_original_is_untouched() -> None:
    order = an_order()
    order["OrderHead"]["operatorCode"] = OPERATOR
    before = repr(order)
    shown = mask_document(order, viewer_roles(OPERATOR, order, PLATFORM))
    assert shown["OrderHead"]["buyerIdNumber"] != order["OrderHead"]["buyerIdNumber"]
    assert shown["OrderHead"]["consigneeAddress"] != order["OrderHead"]["consigneeAddress"]
    assert repr(order) == before


def test_a_logistics_company_sees_the_consignee_but_not_the_buyer_id() -> None:
    order = an_order()
    order["OrderHead"]["logisticsCode"] = LOGISTICS
    shown = mask_document(order, viewer_roles(LOGISTICS, order, PLATFORM))["OrderHead"]
    assert shown["consigneeAddress"] == order["OrderHead"]["consigneeAddress"]
    assert shown["buyerIdNumber"] != order["OrderHead"]["buyerIdNumber"]


def test_a_stranger_has_no_role() -> None:
    assert viewer_roles("9999999999", an_order(), PLATFORM) == frozenset()


def test_masked_values_keep_only_their_ends() -> None:
    assert mask_value("310101199001011234") == "3****************4"
    assert mask_value("王某某") == "王**"
    assert mask_value("王") == "*"
    assert mask_value("") == ""
