"""Business rules (ceb-formats §8.A, §8.B): each rule is broken once on an otherwise clean set."""

from __future__ import annotations

from decimal import Decimal

import cbec_testkit.samples.messages as ex
import pytest
from cbec.ceb.codec import parse
from cbec.ceb.model import CebMessage
from cbec.ceb.rules import RelatedDocs, validate_business
from cbec.ceb.validation import validate
from cbec.errors import CebError
from ceb_samples import samples_dir

SIG = ex.PLACEHOLDER_SIGNATURE


def found(errors: list[CebError]) -> set[tuple[str, str]]:
    return {(e.code, e.path) for e in errors}


def full_set() -> tuple[CebMessage, CebMessage, CebMessage, CebMessage]:
    order = ex.order_message(lines=2)
    doc = order.docs[0]
    return (
        order,
        ex.payment_message(doc),
        ex.logistics_message(doc),
        CebMessage(type="CEB621", docs=[ex.inventory_doc(doc)], guid=ex.GUID,
                   base_transfer=dict(ex.BASE_TRANSFER), signature=SIG),
    )  # fmt: skip


def test_a_consistent_order_payment_waybill_and_list_pass_every_rule() -> None:
    msgs = full_set()
    related = RelatedDocs.of(*msgs)
    for msg in msgs:
        assert validate(msg, related) == [], msg.type


def test_enterprises_may_share_one_code_across_roles() -> None:
    # §8.A.9: the official CEB311 sample uses one code for ebp, ebc and pay; that is no error.
    order = ex.order_message()
    head = order.docs[0]["OrderHead"]
    head["ebcCode"] = head["payCode"] = head["ebpCode"]
    assert validate_business(order) == []


def test_actural_paid_must_be_goods_plus_freight_plus_tax_minus_discount() -> None:
    order = ex.order_message()
    order.docs[0]["OrderHead"]["acturalPaid"] = "999"
    errors = validate_business(order)
    assert found(errors) == {("CBEC-ACTURAL-PAID", "Order[1].OrderHead.acturalPaid")}
    assert f"orderNo={ex.ORDER_NO}" in errors[0].message
    order.docs[0]["OrderHead"].update(discount="5", acturalPaid="45")  # 40 + 10 + 0 − 5
    assert validate_business(order) == []


def test_actural_paid_must_equal_the_payments_amount_paid() -> None:
    order, payment, _, _ = full_set()
    payment.docs[0]["PaymentHead"]["amountPaid"] = "1"
    assert ("CBEC-PAYMENT-AMOUNT", "Payment[1].PaymentHead.amountPaid") in found(
        validate_business(payment, RelatedDocs.of(order))
    )
    assert ("CBEC-PAYMENT-AMOUNT", "Order[1].OrderHead.acturalPaid") in found(
        validate_business(order, RelatedDocs.of(payment))
    )


def test_line_total_price_is_price_times_qty_to_the_fen() -> None:
    order = ex.order_message()
    line = order.docs[0]["OrderList"][0]
    line.update(price="3.333", qty="3", totalPrice="10.00")  # 9.999 → 10.00 at the fen: accepted
    order.docs[0]["OrderHead"].update(goodsValue="10.00", acturalPaid="20.00")
    assert validate_business(order) == []
    line["totalPrice"] = "11"
    assert ("CBEC-TOTAL-PRICE", "Order[1].OrderList[1].totalPrice") in found(validate_business(order))


def test_goods_value_is_the_sum_of_the_lines_including_non_cash_deductions() -> None:
    order = ex.order_message(lines=2)
    head = order.docs[0]["OrderHead"]
    # a coupon lowers what is paid, not the goods value: lines stay at list price
    head.update(goodsValue="75", discount="5", acturalPaid="80")
    assert found(validate_business(order)) == {("CBEC-GOODS-VALUE", "Order[1].OrderHead.goodsValue")}


def test_import_currency_is_142() -> None:
    order = ex.order_message()
    order.docs[0]["OrderList"][0]["currency"] = "502"
    assert ("CBEC-CURRENCY", "Order[1].OrderList[1].currency") in found(validate_business(order))


@pytest.mark.parametrize(("msg_factory", "head", "name"), [
    (ex.order_message, "OrderHead", "buyerIdType"),
    (ex.payment_message, "PaymentHead", "payerIdType"),
])  # fmt: skip
def test_buyer_and_payer_id_type_is_1(msg_factory: object, head: str, name: str) -> None:
    msg = msg_factory()  # type: ignore[operator]
    msg.docs[0][head][name] = "2"
    assert found(validate_business(msg)) == {("CBEC-ID-TYPE", f"{msg.docs and ''}{_doc(msg)}[1].{head}.{name}")}


def _doc(msg: CebMessage) -> str:
    return {"CEB311": "Order", "CEB411": "Payment", "CEB511": "Logistics", "CEB621": "Inventory"}[msg.type]


@pytest.mark.parametrize("name", ["consignee", "consigneeTelephone", "consigneeAddress"])
def test_order_consignee_phone_and_address_equal_the_waybills(name: str) -> None:
    order, _, waybill, _ = full_set()
    waybill.docs[0]["LogisticsHead"][name] = "另一个值"
    errors = validate_business(waybill, RelatedDocs.of(order))
    assert found(errors) == {("CBEC-CONSIGNEE", f"Logistics[1].LogisticsHead.{name}")}
    assert "另一个值" not in errors[0].message  # personal data is not echoed
    assert found(validate_business(order, RelatedDocs.of(waybill))) == {
        ("CBEC-CONSIGNEE", f"Order[1].OrderHead.{name}")
    }


@pytest.mark.parametrize(("code", "ok"), [
    (ex.EBP, True), (ex.EBC, True), (ex.LOGISTICS, True), (ex.AGENT, True), ("9999999999", False),
])  # fmt: skip
def test_assure_code_is_a_party_of_the_list(code: str, ok: bool) -> None:
    inv = ex.inventory_message(signature=SIG)
    inv.docs[0]["InventoryHead"]["assureCode"] = code
    assert (validate_business(inv) == []) is ok


def test_cop_code_and_return_declarer_must_match_the_certificate() -> None:
    refund = ex.refund_message()
    related = RelatedDocs(inventories=[ex.released_inventory()], certificate_code="3100000000")
    assert found(validate_business(refund, related)) == {
        ("-625013", "InvtRefund[1].InvtRefundHead.agentCode"),
        ("CBEC-COP-CODE", "BaseTransfer.copCode"),
    }
    assert validate_business(refund, RelatedDocs(inventories=[ex.released_inventory()], certificate_code=ex.EBC)) == []


def test_order_numbers_are_unique_per_platform_within_a_batch() -> None:
    order = ex.order_message(docs=2)
    order.docs[1]["OrderHead"]["orderNo"] = order.docs[0]["OrderHead"]["orderNo"]
    assert found(validate_business(order)) == {("-301010", "Order[2].OrderHead.orderNo")}
    order.docs[1]["OrderHead"]["ebpCode"] = "1105910199"  # another platform may reuse the number
    assert validate_business(order) == []


def test_waybill_numbers_are_unique_per_carrier_within_a_batch() -> None:
    waybill = ex.logistics_message()
    waybill.docs.append({"LogisticsHead": dict(waybill.docs[0]["LogisticsHead"])})
    assert found(validate_business(waybill)) == {("-504015", "Logistics[2].LogisticsHead.logisticsNo")}


@pytest.mark.parametrize("factory", [ex.logistics_message, lambda: ex.inventory_message(signature=SIG)])
def test_pack_no_is_1_on_waybill_and_list(factory: object) -> None:
    msg = factory()  # type: ignore[operator]
    head = next(iter(msg.docs[0]))
    msg.docs[0][head]["packNo"] = "2"
    assert found(validate_business(msg)) == {("CBEC-PACK-NO", f"{_doc(msg)}[1].{head}.packNo")}


def test_more_than_100_documents_or_99_lines_get_the_customs_codes() -> None:
    orders = ex.order_message(docs=101)
    assert ("-301015", "Order") in found(validate_business(orders))
    inv = ex.inventory_message(lines=100, signature=SIG)
    assert ("-621030", "Inventory[1].InventoryList") in found(validate_business(inv))


def test_gnum_is_unique_and_numbers_lines_from_1() -> None:
    order = ex.order_message(lines=3)
    order.docs[0]["OrderList"][2]["gnum"] = "2"
    assert ("-301002", "Order[1].OrderList[3].gnum") in found(validate_business(order))
    inv = ex.inventory_message(lines=2, signature=SIG)
    inv.docs[0]["InventoryList"][1]["gnum"] = "1"
    assert ("-621027", "Inventory[1].InventoryList[2].gnum") in found(validate_business(inv))
    gap = ex.order_message(lines=2)
    gap.docs[0]["OrderList"][1]["gnum"] = "5"
    assert found(validate_business(gap)) == {("CBEC-GNUM-SEQ", "Order[1].OrderList[2].gnum")}


def test_list_lines_match_the_order_one_to_one_with_the_same_names() -> None:
    order, _, _, inv = full_set()
    inv.docs[0]["InventoryList"][1]["gname"] = "别的商品"
    assert found(validate_business(inv, RelatedDocs.of(order))) == {
        ("CBEC-LIST-GNAME", "Inventory[1].InventoryList[2].gname")
    }
    inv.docs[0]["InventoryList"].pop()
    assert ("CBEC-LIST-GNUM", "Inventory[1].InventoryList") in found(validate_business(inv, RelatedDocs.of(order)))


def test_list_must_name_the_waybill_of_its_order() -> None:
    order, _, waybill, inv = full_set()
    inv.docs[0]["InventoryHead"]["logisticsNo"] = "LN-OTHER"
    assert found(validate_business(inv, RelatedDocs.of(order, waybill))) == {
        ("-621002", "Inventory[1].InventoryHead.logisticsNo")
    }


def test_a_return_names_original_items_and_returns_at_most_their_qty() -> None:
    related = RelatedDocs(inventories=[ex.released_inventory()])
    refund = ex.refund_message()
    assert validate_business(refund, related) == []
    refund.docs[0]["InvtRefundList"][0]["qty"] = "3"  # the list had 2
    assert found(validate_business(refund, related)) == {("CBEC-REFUND-QTY", "InvtRefund[1].InvtRefundList[1].qty")}
    refund.docs[0]["InvtRefundList"][0].update(qty="1", gnum="7")
    assert found(validate_business(refund, related)) == {("-625209", "InvtRefund[1].InvtRefundList[1].gnum")}


def test_second_quantity_and_unit_are_both_empty_or_unit2_with_positive_qty2() -> None:
    inv = ex.inventory_message(signature=SIG)
    line = inv.docs[0]["InventoryList"][0]
    line.update(qty2="1", unit2="035")
    assert validate_business(inv) == []
    line.update(qty2="0")
    assert found(validate_business(inv)) == {("CBEC-QTY2", "Inventory[1].InventoryList[1].qty2")}
    line.update(qty2="1", unit2="")
    assert found(validate_business(inv)) == {("CBEC-QTY2", "Inventory[1].InventoryList[1].qty2")}
    export_return = parse((samples_dir() / "export" / "CEB213Message.xml").read_bytes())
    export_return.docs[0]["InvtRefundList"][0].update(qty2="2", unit2="")
    assert ("-625009", "InvtRefund[1].InvtRefundList[1].qty2") in found(validate_business(export_return))


def test_bonded_1210_lists_need_account_book_area_item_record_and_country_142() -> None:
    inv = ex.inventory_message(signature=SIG)
    inv.docs[0]["InventoryHead"]["tradeMode"] = "1210"
    assert found(validate_business(inv)) == {
        ("CBEC-1210", "Inventory[1].InventoryHead.emsNo"),
        ("CBEC-1210", "Inventory[1].InventoryHead.areaCode"),
        ("CBEC-1210", "Inventory[1].InventoryHead.areaName"),
        ("CBEC-1210", "Inventory[1].InventoryHead.country"),
        ("CBEC-1210", "Inventory[1].InventoryList[1].itemRecordNo"),
    }
    inv.docs[0]["InventoryHead"].update(emsNo="T5165W000001", areaCode="5165000001", areaName="区内仓", country="142")
    inv.docs[0]["InventoryList"][0]["itemRecordNo"] = "ITEM-1"
    assert validate_business(inv) == []


def test_direct_purchase_9610_lists_need_transport_and_bill() -> None:
    inv = ex.inventory_message(signature=SIG)
    for name in ("trafNo", "voyageNo", "billNo"):
        del inv.docs[0]["InventoryHead"][name]
    assert {p for _, p in found(validate_business(inv))} == {
        "Inventory[1].InventoryHead.trafNo",
        "Inventory[1].InventoryHead.voyageNo",
        "Inventory[1].InventoryHead.billNo",
    }


@pytest.mark.parametrize(("factory", "code"), [
    (lambda: ex.inventory_message(), "-621026"),
    (lambda: ex.cancel_message(signature=None), "-623017"),
    (lambda: ex.refund_message(signature=None), "-625028"),
])  # fmt: skip
def test_app_status_2_requires_the_signature(factory: object, code: str) -> None:
    msg = factory()  # type: ignore[operator]
    assert code in {e.code for e in validate_business(msg)}
    assert validate_business(msg, before_signing=True) == []
    draft = factory()  # type: ignore[operator]
    head = draft.docs[0].get("InventoryHead") or draft.docs[0].get("InvtRefundHead") or draft.docs[0]
    head["appStatus"] = "1"
    assert validate_business(draft) == []


@pytest.mark.parametrize(("factory", "code"), [
    (ex.order_message, "-301011"), (ex.payment_message, "-401008"), (ex.logistics_message, "-504016"),
])  # fmt: skip
def test_documents_of_a_declared_list_can_no_longer_change(factory: object, code: str) -> None:
    msg = factory()  # type: ignore[operator]
    head = next(iter(msg.docs[0]))
    msg.docs[0][head]["appType"] = "2"
    related = RelatedDocs(inventories=[ex.inventory_doc()])
    assert found(validate_business(msg, related)) == {(code, f"{_doc(msg)}[1].{head}.appType")}
    assert validate_business(msg, RelatedDocs()) == []


def test_cancel_needs_an_existing_list_in_a_state_that_allows_it() -> None:
    cancel = ex.cancel_message()
    assert validate_business(cancel, RelatedDocs(list_status={ex.INVT_NO: "800"})) == []
    assert found(validate_business(cancel, RelatedDocs(list_status={ex.INVT_NO: "2"}))) == {
        ("-623005", "InvtCancel[1].invtNo")
    }
    assert found(validate_business(cancel, RelatedDocs(list_status={"other": "800"}))) == {
        ("-623003", "InvtCancel[1].invtNo")
    }


@pytest.mark.parametrize(("factory", "code"), [
    (ex.order_message, "-301014"), (ex.payment_message, "-401012"), (ex.logistics_message, "-505016"),
])  # fmt: skip
def test_a_message_older_than_the_stored_one_is_flagged(factory: object, code: str) -> None:
    msg = factory()  # type: ignore[operator]
    head = next(iter(msg.docs[0]))
    app_time = msg.docs[0][head]["appTime"]
    key = f"orderNo={ex.ORDER_NO}" if msg.type != "CEB511" else f"logisticsNo={ex.LOGISTICS_NO}"
    assert found(validate_business(msg, RelatedDocs(stored_app_time={key: app_time}))) == {
        (code, f"{_doc(msg)}[1].{head}.appTime")
    }
    assert validate_business(msg, RelatedDocs(stored_app_time={key: "20000101000000"})) == []


def test_single_purchase_over_5000_yuan_is_refused_with_621005() -> None:
    order = ex.order_message()
    line = order.docs[0]["OrderList"][0]
    line.update(price="2500", qty="2", totalPrice="5000")
    order.docs[0]["OrderHead"].update(goodsValue="5000", acturalPaid="5010")  # + freight 10
    assert found(validate_business(order)) == {("-621005", "Order[1].OrderHead")}
    order.docs[0]["OrderHead"].update(freight="0", acturalPaid="5000")
    assert validate_business(order) == []


def test_annual_limit_of_26000_yuan_per_buyer_gives_621018() -> None:
    inv = ex.inventory_message(signature=SIG)
    buyer = inv.docs[0]["InventoryHead"]["buyerIdNumber"]
    assert validate_business(inv, RelatedDocs(annual_used={buyer: Decimal("25950")})) == []
    errors = validate_business(inv, RelatedDocs(annual_used={buyer: Decimal("25951")}))
    assert found(errors) == {("-621018", "Inventory[1].InventoryHead")}
    assert buyer not in errors[0].message


def test_an_entry_detail_older_than_the_stored_one_gets_800005() -> None:
    from cbec.ceb.structure import business_key

    delivery = parse((samples_dir() / "import" / "CEB711Message.xml").read_bytes())
    doc = delivery.docs[0]
    stored = {business_key(doc): doc["DeliveryHead"]["appTime"]}
    assert found(validate_business(delivery, RelatedDocs(stored_app_time=stored))) == {
        ("-800005", "Delivery[1].DeliveryHead.appTime")
    }
