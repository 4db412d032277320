"""The clearance saga told as stories: who waits for whom, receipts in any order, rejections, deadlines."""

from __future__ import annotations

from collections import Counter

import pytest
from cbec.contracts.events import DocumentReceived, DocumentReleased, DocumentSigningFailed, ReceiptRecorded
from saga_story import CONTENT_HASH, Story


@pytest.fixture
def clearance() -> Story:
    return Story()


def test_waybill_waits_for_payment(clearance: Story) -> None:
    clearance.declare("order")
    clearance.declare("waybill")
    clearance.customs_accepts("order")
    assert clearance.held_for("waybill") == "waiting for payment"
    assert not clearance.released("waybill")
    clearance.declare("payment")
    assert clearance.held_for("waybill") == "waiting for payment"
    clearance.customs_accepts("payment")
    assert clearance.released("waybill")
    assert clearance.status_of("waybill") == "sent to customs"


def test_list_waits_for_waybill(clearance: Story) -> None:
    clearance.declare("order")
    clearance.declare("payment")
    clearance.declare("list")
    clearance.customs_accepts("order", "payment")
    assert clearance.held_for("list") == "waiting for waybill"
    clearance.declare("waybill")
    clearance.customs_accepts("waybill")
    assert clearance.released("list")


@pytest.mark.parametrize("first,second", [("order", "payment"), ("payment", "order")])
def test_order_and_payment_in_either_order_release_the_waybill_once(clearance: Story, first: str,
                                                                      second: str) -> None:
    clearance.declare("waybill")
    clearance.declare(first)
    clearance.customs_accepts(first)
    assert clearance.held_for("waybill") == f"waiting for {second}"
    clearance.declare(second)
    clearance.customs_accepts(second)
    assert len(clearance.commands("ReleaseDocument", "waybill")) == 1


def test_a_withdrawn_waybill_reads_withdrawn_is_never_released_and_the_list_waits_for_a_new_one(
    clearance: Story,
) -> None:
    for what in ("order", "payment", "waybill", "list"):
        clearance.declare(what)
    clearance.withdraw("waybill")
    assert clearance.status_of("waybill") == "withdrawn"
    told = [(m.tenant, m.status, m.phase) for m in clearance.status_messages() if m.doc_type == "CEB511"]
    assert told[-1] == ("3105960003", "withdrawn", "withdrawn")
    clearance.customs_accepts("order", "payment")
    assert not clearance.released("waybill")
    assert clearance.held_for("list") == "waiting for waybill"
    clearance.declare("waybill")  # declared anew after the withdrawal
    assert clearance.released("waybill")
    clearance.customs_accepts("waybill")
    assert clearance.released("list")


def test_a_declared_prerequisite_means_receipt_120_by_default(clearance: Story) -> None:
    clearance.declare("order")
    clearance.declare("payment")
    clearance.declare("waybill")
    clearance.customs("order", 2)
    clearance.customs("payment", 2)
    assert clearance.held_for("waybill") == "waiting for order and payment"
    clearance.customs("order", 120)
    clearance.customs("payment", 120)
    assert clearance.released("waybill")


def test_the_gate_can_be_lowered_to_status_2() -> None:
    clearance = Story(gate=2)
    clearance.declare("order")
    clearance.declare("payment")
    clearance.declare("waybill")
    clearance.customs("order", 2)
    clearance.customs("payment", 2)
    assert clearance.released("waybill")


def test_a_full_clearance_releases_each_document_once_in_prerequisite_order(clearance: Story) -> None:
    for what in ("list", "waybill", "payment", "order"):
        clearance.declare(what)
    clearance.customs_accepts("order", "payment")
    clearance.customs_accepts("waybill")
    clearance.customs("list", 2, 120, 399, 800)
    assert [d for _, d in clearance.sent] == ["CEB411", "CEB311", "CEB511", "CEB621"]
    assert Counter(d for _, d in clearance.sent) == {"CEB311": 1, "CEB411": 1, "CEB511": 1, "CEB621": 1}
    assert clearance.status_of("list") == "released (800)"
    assert [c.command for c in clearance.commands("LockClearance")] == ["LockClearance"]


def test_duplicate_receipts_and_redelivered_events_change_nothing(clearance: Story) -> None:
    clearance.declare("order")
    clearance.declare("payment")
    clearance.declare("waybill")
    clearance.customs("order", 2, 120)
    clearance.customs("order", 120, time="20260101120000002")  # the same 120 again
    event = clearance.emit(ReceiptRecorded(**clearance.about("CEB411"), receipt_id="r9", receipt_type="CEB412",
                                           return_status=120, return_time="20260101120000009", return_info=""))
    assert clearance.saga.observe(event) == []  # the same event delivered twice
    assert len(clearance.commands("ReleaseDocument", "waybill")) == 1
    history = clearance.saga.view(clearance.key)["documents"]["order"]["receipts"]
    assert [r["returnStatus"] for r in history] == [2, 120]


def test_a_late_status_2_does_not_undo_a_120(clearance: Story) -> None:
    clearance.declare("order")
    clearance.customs("order", 120, time="20260101120000500")
    clearance.customs("order", 2, time="20260101120000100")  # arrives after, stamped before
    assert clearance.status_of("order") == "customs accepted (120)"


def test_out_of_order_list_receipts_settle_on_the_latest_return_time(clearance: Story) -> None:
    clearance.declare("order")
    clearance.declare("payment")
    clearance.declare("waybill")
    clearance.declare("list")
    clearance.customs_accepts("order", "payment", "waybill")
    clearance.customs("list", 800, time="20260101130000000")
    clearance.customs("list", 120, time="20260101120000000")
    clearance.customs("list", 2, time="20260101110000000")
    assert clearance.status_of("list") == "released (800)"
    history = clearance.saga.view(clearance.key)["documents"]["inventory"]["receipts"]
    assert [r["returnStatus"] for r in history] == [2, 120, 800]


def test_every_status_change_is_told_to_the_sender_once(clearance: Story) -> None:
    clearance.declare("order")
    clearance.customs("order", 2, 120)
    clearance.customs("order", 120, time="20260101120000002")
    told = [(m.tenant, m.status) for m in clearance.status_messages() if m.doc_type == "CEB311"]
    assert told == [("3105960001", s) for s in ("received", "released", "signed", "sent to customs",
                                                  "declaring at e-port (2)", "customs accepted (120)")]


def test_a_rejected_document_is_reported_with_customs_reason_and_blocks_its_dependants(clearance: Story) -> None:
    clearance.declare("order")
    clearance.declare("payment")
    clearance.declare("waybill")
    clearance.customs("payment", 2, 120)
    clearance.customs("order", 2, 100, info="订单实付金额与支付单不符")
    assert clearance.status_of("order") == "rejected by customs (100)"
    rejected = [m for m in clearance.status_messages() if m.status_code == 100]
    assert rejected and rejected[0].reason == "订单实付金额与支付单不符"
    assert rejected[0].tenant == "3105960001"
    assert clearance.held_for("waybill") == "waiting for order"


def test_a_corrected_redeclaration_resumes_the_clearance(clearance: Story) -> None:
    clearance.declare("order")
    clearance.declare("payment")
    clearance.declare("waybill")
    clearance.customs_accepts("payment")
    clearance.customs("order", 2, 100, info="rejected")
    clearance.declare("order")  # the corrected order, a change handled by the order service
    assert clearance.status_of("order") == "sent to customs"
    clearance.customs("order", 2, 120)
    assert clearance.released("waybill")
    history = clearance.saga.view(clearance.key)["documents"]["order"]["receipts"]
    assert [r["returnStatus"] for r in history] == [2, 100, 2, 120]


def test_a_negative_receipt_is_a_rejection(clearance: Story) -> None:
    clearance.declare("order")
    clearance.customs("order", -301010, info="已存在相同编号的订单")
    assert clearance.status_of("order") == "customs error (-301010)"
    assert clearance.saga.view(clearance.key)["documents"]["order"]["reason"] == "已存在相同编号的订单"


def _released_list(clearance: Story) -> None:
    for what in ("order", "payment", "waybill", "list"):
        clearance.declare(what)
    clearance.customs_accepts("order", "payment", "waybill")
    clearance.customs("list", 2, 120, 399, 800)


def test_cancel_is_released_when_the_list_is_released_and_the_goods_are_still_in(clearance: Story) -> None:
    _released_list(clearance)
    clearance.declare("cancel")
    assert clearance.released("cancel")
    assert clearance.commands("RefuseDocument") == []


def test_cancel_is_refused_before_the_list_is_released(clearance: Story) -> None:
    for what in ("order", "payment", "waybill", "list"):
        clearance.declare(what)
    clearance.customs_accepts("order", "payment", "waybill", "list")
    clearance.declare("cancel")
    [refusal] = clearance.commands("RefuseDocument", "cancel")
    assert refusal.errors[0].code == "-623005"
    assert not clearance.released("cancel")
    assert clearance.status_of("cancel") == "refused"


def test_cancel_is_refused_once_the_goods_have_left(clearance: Story) -> None:
    _released_list(clearance)
    clearance.goods_left()
    clearance.declare("cancel")
    [refusal] = clearance.commands("RefuseDocument", "cancel")
    assert refusal.errors[0].code == "-623005" and "left" in refusal.errors[0].message


def test_return_is_released_once_the_goods_have_left(clearance: Story) -> None:
    _released_list(clearance)
    clearance.goods_left()
    clearance.declare("return")
    assert clearance.released("return")


def test_return_is_refused_while_the_goods_are_still_in(clearance: Story) -> None:
    _released_list(clearance)
    clearance.declare("return")
    [refusal] = clearance.commands("RefuseDocument", "return")
    assert refusal.errors[0].code == "-625004" and "not left" in refusal.errors[0].message
    assert clearance.status_of("return") == "refused"


def test_the_deadline_fires_and_resends_exactly_once() -> None:
    clearance = Story(timeout=60, max_resends=2, auto_send=True)
    clearance.declare("order")
    clearance.later(59)
    assert clearance.commands("ResendDocument") == []
    clearance.later(1)
    assert len(clearance.commands("ResendDocument", "order")) == 1
    clearance.saga.tick()
    clearance.pump()
    assert len(clearance.commands("ResendDocument", "order")) == 1  # same moment, no second resend
    clearance.customs("order", 2, 120)
    clearance.later(600)
    assert len(clearance.commands("ResendDocument", "order")) == 1


def test_a_lost_final_receipt_is_recovered_by_a_resend() -> None:
    clearance = Story(timeout=30)
    clearance.declare("order")
    clearance.customs("order", 2)  # the 120 is lost
    clearance.later(30)
    assert len(clearance.commands("ResendDocument", "order")) == 1
    clearance.customs("order", 120)
    assert clearance.status_of("order") == "customs accepted (120)"


def test_after_k_resends_the_saga_raises_one_alert() -> None:
    clearance = Story(timeout=10, max_resends=2)
    clearance.declare("order")
    for _ in range(5):
        clearance.later(10)
    assert len(clearance.commands("ResendDocument", "order")) == 2
    alerts = [m for m in clearance.status_messages() if m.type == "ClearanceAlert"]
    assert len(alerts) == 1 and alerts[0].tenant == "3105960001" and "2 resends" in alerts[0].reason
    assert clearance.saga.deadlines == {}


def test_deadlines_survive_a_restart_of_the_saga() -> None:
    from saga_service.application import SagaApp

    clearance = Story(timeout=10)
    clearance.declare("order")
    restarted = SagaApp(clearance.store, policy=clearance.policy, clock=clearance.clock)
    assert clearance.key in restarted.deadlines


def test_the_gate_is_120_or_2_and_nothing_else() -> None:
    from saga_service.application import policy_from

    assert policy_from(2, 30, 1).gate == 2
    with pytest.raises(ValueError):
        policy_from(399, 30, 1)


def test_a_ceb900_format_error_is_a_rejection_with_its_reason(clearance: Story) -> None:
    clearance.declare("order")
    clearance.emit(ReceiptRecorded(**clearance.about("CEB311"), receipt_id="f1", receipt_type="CEB900",
                                   return_status=2, return_time="20260101120000001", return_info="schema: bad"))
    assert clearance.status_of("order") == "format error at customs (0002)"  # as the order service says
    assert clearance.saga.view(clearance.key)["documents"]["order"]["reason"] == "schema: bad"


def test_a_signing_failure_raises_one_alert(clearance: Story) -> None:
    order = clearance.about("CEB311")
    clearance.emit(DocumentReceived(**order, sender="3105960001", command_id="c1", content_hash=CONTENT_HASH))
    clearance.emit(DocumentReleased(**order, sender="3105960001", request_id="CEB311:s:2"))
    clearance.emit(DocumentSigningFailed(**order, request_id="CEB311:s:2",
                                         error={"code": "CBEC-SIG-EXPIRED", "message": "expired"}))
    clearance.later(3600)
    alerts = [m for m in clearance.status_messages() if m.type == "ClearanceAlert"]
    assert len(alerts) == 1 and "signing CEB311 failed" in alerts[0].reason


def test_a_waybill_from_the_payment_company_is_refused_once_both_are_declared(clearance: Story) -> None:
    clearance.declare("order")
    clearance.declare("payment")
    clearance.declare("waybill", sender="3105960002")  # the payment company sends the waybill too
    clearance.customs_accepts("order", "payment")
    assert not clearance.released("waybill")
    [refusal] = clearance.commands("RefuseDocument", "waybill")
    assert refusal.errors[0].code == "CBEC-TENANCY-DISTINCT"
    assert "payment" in refusal.errors[0].message


def test_a_waybill_from_a_third_enterprise_is_released(clearance: Story) -> None:
    clearance.declare("order")
    clearance.declare("payment")
    clearance.declare("waybill")
    clearance.customs_accepts("order", "payment")
    assert clearance.released("waybill") and not clearance.commands("RefuseDocument", "waybill")


def _goods_left_on_the_topic_of(clearance: Story, recorder: str) -> None:
    from cbec.bus.ports import Message
    from cbec.contracts import topics
    from cbec.contracts.commands import GoodsLeft

    fact = GoodsLeft(clearance.key, f"goods-left:{recorder}")
    clearance.saga.handle(Message(topics.tenant_goods_left(recorder), 0, 0, clearance.key, fact.to_json()))
    clearance.pump()


def test_a_site_operator_outside_the_clearance_cannot_report_its_goods_leaving(clearance: Story) -> None:
    from cbec.contracts.base import ContractError

    _released_list(clearance)
    with pytest.raises(ContractError, match="not a party") as refused:
        _goods_left_on_the_topic_of(clearance, "3105960005")  # a site operator with no entry list here
    assert refused.value.errors[0].code == "CBEC-1006"
    clearance.declare("cancel")
    assert clearance.released("cancel")  # the goods are still in: the forged fact changed nothing


def test_the_warehouse_that_declared_the_list_reports_the_goods_leaving_on_its_own_topic(clearance: Story) -> None:
    _released_list(clearance)
    _goods_left_on_the_topic_of(clearance, "3105960004")  # the list's declarant (bonded warehouse)
    clearance.declare("cancel")
    [refusal] = clearance.commands("RefuseDocument", "cancel")
    assert refusal.errors[0].code == "-623005"


def test_a_resend_answered_already_declared_reads_accepted_earlier_and_lets_the_clearance_go_on() -> None:
    """The order's 120 was lost; the resend is answered -301010 (the same order number exists): the
    original reached customs, so the order counts as accepted, with both receipts, and no alert."""
    clearance = Story(timeout=30)
    for what in ("order", "payment", "waybill"):
        clearance.declare(what)
    clearance.customs_accepts("payment")
    clearance.customs("order", 2)  # the 120 is lost
    clearance.later(30)
    assert len(clearance.commands("ResendDocument", "order")) == 1
    clearance.customs("order", -301010, info="订单编号重复")
    assert clearance.status_of("order") == "accepted earlier (-301010)"
    assert clearance.released("waybill")
    order = clearance.saga.view(clearance.key)["documents"]["order"]
    assert [r["returnStatus"] for r in order["receipts"]] == [2, -301010] and order["statusCode"] == 120
    assert not [m for m in clearance.status_messages() if m.type == "ClearanceAlert"]
    assert not [m for m in clearance.status_messages() if m.doc_type == "CEB311" and (m.status_code or 0) < 0]


def test_an_already_declared_answer_without_any_receipt_of_the_original_raises_one_alert() -> None:
    clearance = Story(timeout=30)
    clearance.declare("order")
    clearance.later(30)  # no receipt at all: resent
    clearance.customs("order", -301010)
    clearance.later(30)
    assert clearance.status_of("order") == "accepted earlier (-301010)"
    alerts = [m for m in clearance.status_messages() if m.type == "ClearanceAlert"]
    assert len(alerts) == 1 and "no receipt of the original" in alerts[0].reason


def test_already_declared_for_a_first_transmission_is_a_rejection(clearance: Story) -> None:
    """Not a resend: the same order number was declared by someone, not by this transmission."""
    clearance.declare("order")
    clearance.customs("order", -301010)
    assert clearance.status_of("order") == "customs error (-301010)"
