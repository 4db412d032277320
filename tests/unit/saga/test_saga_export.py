"""The export chain told as stories: order and waybill before the list, the list released before the
总分单 and the 运抵单, 运抵 before 离境, the summary after release, cancels before departure, returns after."""

from __future__ import annotations

import pytest
from export_story import ExportStory, export_key

FIRST, SECOND = export_key("EX0001"), export_key("EX0002")
ARRIVAL, DEPARTURE = "3305960015:ARR0001", "3305960013:DEP0001"
MASTER, SUMMARY, TALLY = "3305960014:WB0001", "3305960014:SUM0001", "3305960015:TALLY0001"


@pytest.fixture
def story() -> ExportStory:
    return ExportStory()


def _released_list(story: ExportStory, key: str, trade_mode: str = "9610") -> None:
    story.declare("order", key=key, trade_mode=trade_mode)
    story.declare("waybill", key=key)
    story.declare("list", key=key, trade_mode=trade_mode)
    story.customs_accepts("order", key=key)
    story.customs_accepts("waybill", key=key)
    story.customs_releases(key=key)


def _departed(story: ExportStory, key: str) -> None:
    _released_list(story, key)
    story.declare("arrival", key=ARRIVAL, clearance_keys=[key])
    story.customs_accepts("arrival", key=ARRIVAL)
    story.declare("departure", key=DEPARTURE, clearance_keys=[key])
    story.customs_accepts("departure", key=DEPARTURE)


# -- order, 收款单 and waybill before the list ------------------------------------------------------------
def test_the_waybill_waits_for_the_order_and_the_list_for_both(story: ExportStory) -> None:
    story.declare("list", trade_mode="9610")
    story.declare("waybill")
    assert story.held_for("waybill") == "waiting for export-order"
    assert story.held_for("list") == "waiting for export-order and export-waybill"
    story.declare("order", trade_mode="9610")
    story.customs_accepts("order")
    assert story.released("waybill")
    assert story.held_for("list") == "waiting for export-waybill"
    story.customs_accepts("waybill")
    assert story.released("list")
    assert story.sent_order() == ["order", "waybill", "list"]


def test_where_the_region_requires_it_a_9610_list_waits_for_the_collection() -> None:
    story = ExportStory(collection_for=frozenset({"9610"}))
    story.declare("order", trade_mode="9610")
    story.declare("waybill")
    story.declare("list", trade_mode="9610")
    story.customs_accepts("order", "waybill")
    assert story.held_for("list") == "waiting for collection"
    story.declare("collection")
    story.customs_accepts("collection")
    assert story.released("list")
    assert story.sent_order() == ["order", "waybill", "collection", "list"]


def test_a_9710_list_does_not_wait_for_a_collection_the_region_requires_only_for_9610() -> None:
    story = ExportStory(collection_for=frozenset({"9610"}))
    story.declare("order", trade_mode="9710")
    story.declare("waybill")
    story.declare("list", trade_mode="9710")
    story.customs_accepts("order", "waybill")
    assert story.released("list")
    assert story.export_view()["tradeMode"] == "9710"


def test_the_trade_mode_comes_from_the_order_type_until_the_list_names_it() -> None:
    story = ExportStory(collection_for=frozenset({"9810"}))
    story.declare("order", trade_mode="9810")
    story.declare("waybill")
    story.customs_accepts("order", "waybill")
    story.declare("list")  # names no trade mode: the booking's (orderType W) applies
    assert story.held_for("list") == "waiting for collection"


def test_a_rejected_order_keeps_the_list_held(story: ExportStory) -> None:
    story.declare("order")
    story.declare("waybill")
    story.declare("list")
    story.customs("order", 2, 100, info="订单金额不符")
    assert not story.released("waybill")
    assert not story.released("list")


def test_the_list_at_the_gate_locks_its_order_and_waybill(story: ExportStory) -> None:
    _released_list(story, FIRST)
    locks = story.commands("LockClearance")
    assert [c.clearance_key for c in locks] == [FIRST]


# -- the list released before the 总分单 and the 运抵单 ------------------------------------------------------
def test_the_master_bill_waits_until_customs_releases_every_list_in_it(story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("order", key=SECOND)
    story.declare("waybill", key=SECOND)
    story.declare("list", key=SECOND)
    story.customs_accepts("order", "waybill", key=SECOND)
    story.customs("list", 2, 120, key=SECOND)  # accepted, not released
    story.declare("master-bill", key=MASTER, clearance_keys=[FIRST, SECOND])
    assert story.held_for("master-bill", key=MASTER) == f"waiting for the list released of {SECOND}"
    story.customs("list", 800, key=SECOND)
    assert story.released("master-bill", key=MASTER)
    story.customs_accepts("master-bill", key=MASTER)
    assert "bound" in story.export_view(FIRST)["milestones"]


def test_an_arrival_naming_no_clearance_is_never_released(story: ExportStory) -> None:
    story.declare("arrival", key=ARRIVAL, clearance_keys=[])
    assert story.held_for("arrival", key=ARRIVAL) == "waiting for its lists"


def test_an_arrival_declared_before_its_list_waits_for_the_release(story: ExportStory) -> None:
    story.declare("arrival", key=ARRIVAL, clearance_keys=[FIRST])
    assert story.held_for("arrival", key=ARRIVAL) == \
        f"waiting for the list released (报关单模式: the waybill accepted) of {FIRST}"
    story.declare("order", key=FIRST)
    story.declare("waybill", key=FIRST)
    story.declare("list", key=FIRST)
    story.customs_accepts("order", "waybill", key=FIRST)
    story.customs("list", 2, 120, key=FIRST)
    assert not story.released("arrival", key=ARRIVAL)
    story.customs("list", 800, key=FIRST)
    assert story.released("arrival", key=ARRIVAL)
    assert len(story.commands("ReleaseDocument", "arrival")) == 1


# -- 运抵 before 离境 ------------------------------------------------------------------------------------------
def test_the_departure_waits_for_the_arrival_of_every_clearance_in_it(story: ExportStory) -> None:
    _released_list(story, FIRST)
    _released_list(story, SECOND)
    story.declare("departure", key=DEPARTURE, clearance_keys=[FIRST, SECOND])
    story.declare("arrival", key=ARRIVAL, clearance_keys=[FIRST])
    assert story.released("arrival", key=ARRIVAL)
    assert not story.released("departure", key=DEPARTURE)
    story.customs_accepts("arrival", key=ARRIVAL)
    assert story.held_for("departure", key=DEPARTURE) == f"waiting for the goods arrived (运抵) of {SECOND}"
    story.declare("arrival", key="3305960015:ARR0002", clearance_keys=[SECOND])
    story.customs_accepts("arrival", key="3305960015:ARR0002")
    assert story.released("departure", key=DEPARTURE)
    story.customs_accepts("departure", key=DEPARTURE)
    assert set(story.export_view(FIRST)["milestones"]) == {"arrived", "departed"}
    assert set(story.export_view(SECOND)["milestones"]) == {"arrived", "departed"}


def test_an_arrival_customs_rejects_holds_the_departure(story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("arrival", key=ARRIVAL, clearance_keys=[FIRST])
    story.declare("departure", key=DEPARTURE, clearance_keys=[FIRST])
    story.customs("arrival", 2, 100, key=ARRIVAL, info="运抵单与清单不符")
    assert not story.released("departure", key=DEPARTURE)
    assert "arrived" not in story.export_view(FIRST)["milestones"]


# -- cancel before departure, return after ----------------------------------------------------------------
def test_a_cancel_of_a_released_list_before_departure_goes_to_customs(story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("arrival", key=ARRIVAL, clearance_keys=[FIRST])
    story.customs_accepts("arrival", key=ARRIVAL)
    story.declare("cancel")
    assert story.released("cancel")
    story.customs("cancel", 2, 399)
    assert story.export_view()["finished"]


def test_a_cancel_after_departure_is_refused_naming_the_departure(story: ExportStory) -> None:
    _departed(story, FIRST)
    story.declare("cancel")
    refusal = story.refusal("cancel")
    assert refusal["code"] == "CBEC-EXPORT-CANCEL"
    assert "离境" in refusal["message"] and "only before departure" in refusal["message"]
    assert not story.released("cancel")
    assert story.status_of("cancel") == "refused"


def test_a_cancel_of_a_list_not_yet_released_is_refused(story: ExportStory) -> None:
    story.declare("order")
    story.declare("waybill")
    story.declare("list")
    story.customs_accepts("order", "waybill")
    story.customs("list", 2, 120)
    story.declare("cancel")
    assert "the list is not released (status 120)" in story.refusal("cancel")["message"]


def test_a_return_before_departure_is_refused(story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("return")
    refusal = story.refusal("return")
    assert refusal["code"] == "CBEC-EXPORT-RETURN"
    assert "have not departed" in refusal["message"]


def test_a_return_after_departure_goes_and_its_tally_waits_for_it(story: ExportStory) -> None:
    _departed(story, FIRST)
    story.declare("tally", key=TALLY, clearance_keys=[FIRST])
    story.declare("return")
    assert story.released("return")
    assert story.held_for("tally", key=TALLY) == f"waiting for the return accepted of {FIRST}"
    story.customs("return", 2, 120)
    assert story.released("tally", key=TALLY)
    assert story.sent_order() == ["order", "waybill", "list", "return"]


def test_a_return_more_than_a_year_after_release_is_refused(story: ExportStory) -> None:
    _departed(story, FIRST)  # released 2025-12-01
    story.later_days(366)
    story.declare("return")
    refusal = story.refusal("return")
    assert "more than one year since the list was released (2025-12-01" in refusal["message"]


# -- the summary (CEB701) and its result (CEB792) --------------------------------------------------------
def test_a_summary_waits_for_its_lists_released_and_its_result_closes_them(story: ExportStory) -> None:
    _departed(story, FIRST)
    story.declare("order", key=SECOND)
    story.declare("waybill", key=SECOND)
    story.declare("list", key=SECOND)
    story.customs_accepts("order", "waybill", key=SECOND)
    story.declare("summary", key=SUMMARY, clearance_keys=[FIRST, SECOND])
    assert story.held_for("summary", key=SUMMARY) == f"waiting for the list released of {SECOND}"
    story.customs_releases(key=SECOND)
    assert story.released("summary", key=SUMMARY)
    story.customs("summary", 2, 399, key=SUMMARY)
    assert not story.export_view(FIRST)["finished"]  # customs concluded the summary: the result is to come
    story.summary_result(SUMMARY)
    for key in (FIRST, SECOND):
        view = story.export_view(key)
        assert view["finished"] and view["milestones"]["summarised"]
    assert story.export_view(story.group("summary", SUMMARY))["summaryResult"]["sumNo"] == "SUM0001"


def test_a_summary_result_told_twice_closes_the_lists_once(story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("summary", key=SUMMARY, clearance_keys=[FIRST])
    story.summary_result(SUMMARY)
    story.summary_result(SUMMARY)
    stored = [e.type for e in story.store.read(story.saga_stream(FIRST))]
    assert stored.count("MilestoneRecorded") == 1


# -- 报关单模式: no list ---------------------------------------------------------------------------------------
def test_in_customs_declaration_mode_the_arrival_waits_for_the_waybill_and_departure_finishes_it(
    story: ExportStory,
) -> None:
    story.declare("order", trade_mode="9710", strategy="9710报关单")
    story.declare("waybill", strategy="9710报关单")
    story.declare("arrival", key=ARRIVAL, clearance_keys=[FIRST])
    story.customs_accepts("order")
    assert story.held_for("arrival", key=ARRIVAL) == \
        f"waiting for the list released (报关单模式: the waybill accepted) of {FIRST}"
    story.customs_accepts("waybill")
    assert story.released("arrival", key=ARRIVAL)
    assert story.export_view()["mode"] == "customs-declaration"
    assert not story.export_view()["finished"]
    story.customs_accepts("arrival", key=ARRIVAL)
    story.declare("departure", key=DEPARTURE, clearance_keys=[FIRST])
    story.customs_accepts("departure", key=DEPARTURE)
    assert story.export_view()["finished"]
    assert story.sent_order() == ["order", "waybill"]


# -- at-least-once ---------------------------------------------------------------------------------------
def test_a_redelivered_receipt_releases_the_departure_once(story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("arrival", key=ARRIVAL, clearance_keys=[FIRST])
    story.declare("departure", key=DEPARTURE, clearance_keys=[FIRST])
    story.customs("arrival", 2, key=ARRIVAL)
    story.customs("arrival", 399, key=ARRIVAL)
    event = story.last_event
    story.saga.observe(event)
    story.pump()
    assert len(story.commands("ReleaseDocument", "departure")) == 1


# -- the region's setting ------------------------------------------------------------------------------
def test_the_region_names_the_trade_modes_whose_list_waits_for_a_collection() -> None:
    from cbec.settings import Settings
    from saga_service.application import policy_from

    own = Settings.from_environ({"CBEC_SAGA_EXPORT_COLLECTION": "9610, 9810"}).saga
    policy = policy_from(own.gate, own.receipt_timeout, own.max_resends, own.receipt_max_skew, own.export_collection)
    assert policy.export.collection_for == frozenset({"9610", "9810"})
    assert policy_from(120, 30, 1).export.collection_for == frozenset()
    with pytest.raises(ValueError, match="names no export trade mode: 9999"):
        policy_from(120, 30, 1, export_collection="9610,9999")


def test_a_departure_listing_a_waybill_no_clearance_declares_stays_held(story: ExportStory) -> None:
    _departed(story, FIRST)
    story.declare("departure", key="3305960013:DEP0002", clearance_keys=[FIRST], logistics_nos=["LN1", "LN9"])
    assert story.held_for("departure", key="3305960013:DEP0002") == \
        "waiting for the clearance of 1 waybill(s) it lists (not declared when it was)"


def test_a_master_bill_and_a_departure_sharing_a_key_wait_each_for_its_own_condition(story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("departure", key=MASTER, clearance_keys=[FIRST])  # the same agent:copNo as the master bill
    story.declare("master-bill", key=MASTER, clearance_keys=[FIRST])
    assert story.released("master-bill", key=MASTER)
    assert not story.released("departure", key=MASTER)


# -- one saga instance per group document, keyed by its kind -----------------------------------------------
def test_a_master_bill_and_a_summary_of_one_agent_and_copno_are_instances_of_their_own(story: ExportStory) -> None:
    shared = "3305960014:COP0001"  # the owning services key both by agentCode:copNo
    _released_list(story, FIRST)
    story.declare("master-bill", key=shared, clearance_keys=[FIRST])
    story.declare("summary", key=shared, clearance_keys=[FIRST])
    bill, summary = story.group("master-bill", shared), story.group("summary", shared)
    assert bill != summary and shared not in (bill, summary)
    assert set(story.saga.view(bill)["documents"]) == {"master-bill"}
    assert set(story.saga.view(summary)["documents"]) == {"summary"}
    assert story.released("master-bill", key=shared) and story.released("summary", key=shared)
    assert story.export_view(FIRST)["groups"] == {"master-bill": [bill], "summary": [summary]}
    story.summary_result(shared)
    assert "summarised" in story.export_view(FIRST)["milestones"]
    assert "bound" not in story.export_view(FIRST)["milestones"]  # the master bill is not accepted yet


def test_a_group_keyed_like_an_import_clearance_never_folds_into_it(story: ExportStory) -> None:
    clash = "3305960014:EX0001"  # reads like an import clearance ebpCode:orderNo
    story.declare("arrival", key=clash, clearance_keys=[FIRST])
    assert story.saga.view(clash)["documents"] == {}
    assert set(story.saga.view(story.group("arrival", clash))["documents"]) == {"arrival"}


# -- a group never waits silently ----------------------------------------------------------------------------
def test_a_group_held_past_the_receipt_deadline_raises_one_alert_naming_the_member_and_what_it_waits_for(
        story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("order", key=SECOND)
    story.declare("master-bill", key=MASTER, clearance_keys=[FIRST, SECOND])
    story.later(story.policy.receipt_timeout.total_seconds() - 1)
    assert story.saga.view(story.group("master-bill", MASTER))["alerts"] == []
    story.later(2)
    story.later(story.policy.receipt_timeout.total_seconds() * 3)
    [alert] = story.saga.view(story.group("master-bill", MASTER))["alerts"]
    assert "CEB607" in alert and "still held" in alert and f"the list released of {SECOND}" in alert
    assert FIRST not in alert
    assert story.status_of("master-bill", key=MASTER) == "held"  # it may still go once the list is released


def test_a_member_list_customs_rejects_refuses_the_arrival_naming_the_member_with_an_alert(
        story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("order", key=SECOND)
    story.declare("waybill", key=SECOND)
    story.declare("list", key=SECOND)
    story.customs_accepts("order", "waybill", key=SECOND)
    story.declare("arrival", key=ARRIVAL, clearance_keys=[FIRST, SECOND])
    story.customs("list", 2, 100, key=SECOND, info="商品编码不符")
    refusal = story.refusal("arrival", key=ARRIVAL)
    assert refusal["code"] == "CBEC-EXPORT-MEMBER" and refusal["path"] == "clearanceKeys"
    assert SECOND in refusal["message"] and "rejected by customs (100: 商品编码不符)" in refusal["message"]
    assert FIRST not in refusal["message"]
    assert not story.released("arrival", key=ARRIVAL)
    [alert] = story.saga.view(story.group("arrival", ARRIVAL))["alerts"]
    assert SECOND in alert and "refused" in alert


def test_an_arrival_declared_again_without_the_rejected_member_goes(story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("order", key=SECOND)
    story.declare("waybill", key=SECOND)
    story.declare("list", key=SECOND)
    story.customs_accepts("order", "waybill", key=SECOND)
    story.declare("arrival", key=ARRIVAL, clearance_keys=[FIRST, SECOND])
    story.customs("list", 2, 100, key=SECOND, info="商品编码不符")
    assert story.refusal("arrival", key=ARRIVAL)["code"] == "CBEC-EXPORT-MEMBER"
    story.declare("arrival", key=ARRIVAL, clearance_keys=[FIRST])
    assert story.released("arrival", key=ARRIVAL)


def test_a_group_declared_after_its_member_was_rejected_is_refused_at_once(story: ExportStory) -> None:
    story.declare("order")
    story.declare("waybill")
    story.declare("list")
    story.customs_accepts("order", "waybill")
    story.customs("list", 2, 100, info="退单")
    story.declare("summary", key=SUMMARY, clearance_keys=[FIRST])
    assert story.refusal("summary", key=SUMMARY)["code"] == "CBEC-EXPORT-MEMBER"


def test_a_cancelled_list_refuses_the_departure_waiting_for_its_goods(story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("departure", key=DEPARTURE, clearance_keys=[FIRST])
    story.declare("cancel")
    story.customs("cancel", 2, 399)
    refusal = story.refusal("departure", key=DEPARTURE)
    assert "cannot be arrived (运抵)" in refusal["message"] and "its list was cancelled" in refusal["message"]


def test_a_tally_whose_return_is_refused_is_refused_too(story: ExportStory) -> None:
    _released_list(story, FIRST)  # released, not departed: the return is refused
    story.declare("tally", key=TALLY, clearance_keys=[FIRST])
    story.declare("return")
    assert story.refusal("return")["code"] == "CBEC-EXPORT-RETURN"
    refusal = story.refusal("tally", key=TALLY)
    assert "its return CEB213 was refused" in refusal["message"] and "have not departed" in refusal["message"]


# -- the CEB792's decState decides -------------------------------------------------------------------------
def test_a_summary_result_with_a_failed_declaration_state_leaves_the_lists_open_for_a_new_summary(
        story: ExportStory) -> None:
    _released_list(story, FIRST)
    story.declare("summary", key=SUMMARY, clearance_keys=[FIRST])
    story.customs("summary", 2, 399, key=SUMMARY)
    story.summary_result(SUMMARY, dec_state="E")
    view = story.export_view(FIRST)
    assert "summarised" not in view["milestones"] and not view["finished"]
    [alert] = story.saga.view(story.group("summary", SUMMARY))["alerts"]
    assert "decState 'E'" in alert and "stay open for a new summary" in alert
    story.summary_result(SUMMARY, dec_state="E")  # told again: alerted once
    assert len(story.saga.view(story.group("summary", SUMMARY))["alerts"]) == 1
    again = "3305960014:SUM0002"
    story.declare("summary", key=again, clearance_keys=[FIRST])
    assert story.released("summary", key=again)
    story.summary_result(again, sum_no="SUM0002")
    assert story.export_view(FIRST)["finished"]


# -- the list's trade mode pairs with its order's type --------------------------------------------------------
@pytest.mark.parametrize(("order_mode", "list_mode"), [("9610", "9710"), ("9810", "9610"), ("9710", "9810")])
def test_a_list_whose_trade_mode_does_not_pair_with_its_order_type_is_refused(
        story: ExportStory, order_mode: str, list_mode: str) -> None:
    story.declare("order", trade_mode=order_mode)
    story.declare("list", trade_mode=list_mode)
    refusal = story.refusal("list")
    assert refusal["code"] == "CBEC-EXPORT-PAIRING" and refusal["path"] == "InventoryHead.tradeMode"
    assert f"tradeMode {list_mode}" in refusal["message"]
    assert story.status_of("list") == "refused"


@pytest.mark.parametrize(("order_mode", "list_mode"), [("9610", "9610"), ("9610", "1210"), ("9710", "9710"),
                                                       ("9810", "9810")])
def test_a_list_paired_with_its_order_type_goes(story: ExportStory, order_mode: str, list_mode: str) -> None:
    story.declare("order", trade_mode=order_mode)
    story.declare("waybill")
    story.declare("list", trade_mode=list_mode)
    story.customs_accepts("order", "waybill")
    assert story.released("list")


def test_the_story_holds_what_the_owning_services_hold_at_intake() -> None:
    from export_story import EXPORT_TYPES, SENT_AT_ONCE
    from saga_story import HELD_AT_INTAKE

    assert {code for code in EXPORT_TYPES.values() if code not in SENT_AT_ONCE} == \
        {code for code in HELD_AT_INTAKE if code in EXPORT_TYPES.values()}
