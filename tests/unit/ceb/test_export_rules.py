"""Stories of the export business rules (ceb-formats §3, §8, §9) on export messages, and of the customs code
tables (package data) their fields are checked against."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cbec.ceb import code_lists
from cbec.ceb.codec import parse
from cbec.ceb.model import CebMessage
from cbec.ceb.rules import validate_business
from ceb_samples import samples_dir


def sample(code: str) -> dict[str, Any]:
    return copy.deepcopy(parse((samples_dir() / "export" / f"{code}Message.xml").read_bytes(), strict=False).docs[0])


def findings(code: str, doc: dict[str, Any]) -> set[tuple[str, str]]:
    found = validate_business(CebMessage(type=code, docs=[doc], guid="G"), before_signing=True)
    return {(e.code, e.path) for e in found}


def good_order() -> dict[str, Any]:
    order = sample("CEB303")
    order["OrderList"][0].update(unit="011", currency="142", qty="100", price="20", totalPrice="2000")
    return order


def good_list() -> dict[str, Any]:
    inventory = sample("CEB603")
    inventory["InventoryHead"].update(ieFlag="E", tradeMode="9610", country="502", portCode="5165", customsCode="5165")
    inventory["InventoryList"][0].update(country="142", currency="142", unit2="", qty2="", totalPrice="2000")
    return inventory


def test_a_well_formed_export_order_and_list_pass() -> None:
    assert findings("CEB303", good_order()) == set()
    assert findings("CEB603", good_list()) == set()


@pytest.mark.parametrize(("field", "value"), [("currency", "人民币"), ("unit", "11吨"), ("unit", "999")])
def test_an_order_line_with_no_customs_code_is_refused_naming_the_field_rule_and_code(field: str, value: str) -> None:
    order = good_order()
    order["OrderList"][0][field] = value
    [error] = validate_business(CebMessage(type="CEB303", docs=[order], guid="G"), before_signing=True)
    assert (error.code, error.path) == ("CBEC-CODE", f"Order[1].OrderList[1].{field}")
    table = code_lists.CURRENCY if field == "currency" else code_lists.UNIT
    assert error.rule == f"§9 {table.name}" and value in error.message


def test_a_code_the_partial_tables_lack_is_not_refused_but_its_form_is_checked() -> None:
    order = good_order()
    order["OrderHead"]["currency"] = "113"  # not in the shipped (partial) currency file
    assert findings("CEB303", order) == set()
    order["OrderHead"]["currency"] = "AUD"
    assert findings("CEB303", order) == {("CBEC-CODE", "Order[1].OrderHead.currency")}


@pytest.mark.parametrize(("path", "value"), [
    (("InventoryHead", "country"), "998"),
    (("InventoryList", "country"), "140"),
])
def test_a_well_formed_country_the_complete_table_lacks_is_refused_naming_field_table_and_code(
        path: tuple[str, str], value: str) -> None:
    inventory = good_list()
    node = inventory[path[0]] if path[0] == "InventoryHead" else inventory[path[0]][0]
    node[path[1]] = value
    [error] = validate_business(CebMessage(type="CEB603", docs=[inventory], guid="G"), before_signing=True)
    where = "InventoryHead" if path[0] == "InventoryHead" else "InventoryList[1]"
    assert (error.code, error.path) == ("CBEC-CODE", f"Inventory[1].{where}.{path[1]}")
    assert code_lists.COUNTRY.name in error.rule and repr(value) in error.message
    assert code_lists.COUNTRY.file in error.message


def test_the_country_table_is_complete_and_names_every_code_the_demo_and_samples_use() -> None:
    assert code_lists.COUNTRY.complete and len(code_lists.COUNTRY.codes) > 200
    for code, name in [("142", "中国"), ("116", "日本"), ("502", "美国"), ("304", "德国"), ("701", "国(地)别不详的")]:
        assert code_lists.name_of(code_lists.COUNTRY, code) == name


def test_an_import_list_line_from_an_unknown_country_is_refused_too() -> None:
    inventory = copy.deepcopy(parse((samples_dir() / "import" / "CEB621Message.xml").read_bytes(),
                                    strict=False).docs[0])
    before = {(e.code, e.path) for e in validate_business(
        CebMessage(type="CEB621", docs=[inventory], guid="G"), before_signing=True)}
    inventory["InventoryList"][0]["country"] = "998"
    after = {(e.code, e.path) for e in validate_business(
        CebMessage(type="CEB621", docs=[inventory], guid="G"), before_signing=True)}
    assert after - before == {("CBEC-CODE", "Inventory[1].InventoryList[1].country")}


@pytest.mark.parametrize(("field", "value"), [("portCode", "9999"), ("customsCode", "0001")])
def test_customs_districts_have_no_complete_public_table_so_only_their_form_is_checked(
        field: str, value: str) -> None:
    inventory = good_list()
    inventory["InventoryHead"][field] = value
    assert findings("CEB603", inventory) == set()


@pytest.mark.parametrize(("field", "value", "code"), [
    ("trafMode", "K", "CBEC-CODE"),
    ("portCode", "51", "CBEC-CODE"),
    ("wrapType", "X", "CBEC-CODE"),
    ("fCurrency", "USD", "CBEC-CODE"),
    ("ieFlag", "I", "CBEC-IE-FLAG"),
    ("statisticsFlag", "C", "CBEC-CODE"),
    ("tradeMode", "0110", "CBEC-TRADE-MODE"),
    ("country", "142", "CBEC-COUNTRY"),  # 运抵国 is abroad
])
def test_an_export_list_head_breaking_a_rule_is_refused_naming_it(field: str, value: str, code: str) -> None:
    inventory = good_list()
    inventory["InventoryHead"][field] = value
    assert findings("CEB603", inventory) == {(code, f"Inventory[1].InventoryHead.{field}")}


@pytest.mark.parametrize("trade_mode", ["9610", "9710", "9810", "1210"])
def test_every_export_trade_mode_is_a_list(trade_mode: str) -> None:
    inventory = good_list()
    inventory["InventoryHead"]["tradeMode"] = trade_mode
    assert findings("CEB603", inventory) == set()


def test_an_order_type_of_import_and_a_repeated_line_number_are_refused() -> None:
    order = good_order()
    order["OrderHead"]["orderType"] = "I"
    order["OrderList"].append({**order["OrderList"][0]})
    assert findings("CEB303", order) == {("CBEC-CODE", "Order[1].OrderHead.orderType"),
                                         ("-301002", "Order[1].OrderList[2].gnum")}


def test_line_totals_are_quantity_times_price() -> None:
    order = good_order()
    order["OrderList"][0]["totalPrice"] = "2001"
    assert findings("CEB303", order) == {("CBEC-TOTAL-PRICE", "Order[1].OrderList[1].totalPrice")}


def test_a_return_and_its_tally_bring_goods_back_ie_flag_i() -> None:
    assert findings("CEB213", sample("CEB213")) == set()
    tally = sample("CEB215")
    tally["ieFlag"] = "E"
    assert findings("CEB215", tally) == {("CBEC-IE-FLAG", "InvtRefundDetail[1].ieFlag")}


def test_an_arrival_split_in_parts_numbers_them_within_the_count() -> None:
    arrival = sample("CEB507")
    assert findings("CEB507", arrival) == set()
    arrival["ArrivalHead"].update(msgCount="2", msgSeqNo="3")
    arrival["ArrivalList"][1]["gnum"] = "1"
    assert findings("CEB507", arrival) == {("CBEC-MSG-SEQ", "Arrival[1].ArrivalHead.msgSeqNo"),
                                           ("CBEC-GNUM-DUP", "Arrival[1].ArrivalList[2].gnum")}


@pytest.mark.parametrize(("field", "value", "code"), [
    ("summaryFlag", "3", "CBEC-CODE"),
    ("itemNameFlag", "0", "CBEC-CODE"),
    ("startTime", "20260201000000", "CBEC-PERIOD"),
])
def test_a_summary_names_how_it_summarises_and_a_period_in_order(field: str, value: str, code: str) -> None:
    summary = sample("CEB701")
    assert findings("CEB701", summary) == set()
    summary["SummaryApplyHead"].update(startTime="20260101000000", endTime="20260131235959")
    assert findings("CEB701", summary) == set()
    summary["SummaryApplyHead"][field] = value
    assert findings("CEB701", summary) == {(code, f"SummaryApply[1].SummaryApplyHead.{field}")}


def test_the_complete_tables_ship_with_the_package_and_name_their_codes() -> None:
    assert len(code_lists.UNIT.codes) > 100 and code_lists.name_of(code_lists.UNIT, "011") == "件"
    assert code_lists.name_of(code_lists.TRANSPORT, "5") == "航空运输"
    assert code_lists.name_of(code_lists.CURRENCY, "142") == "人民币"
    assert all(t.codes for t in code_lists.TABLES if t.complete)  # a complete table has its file
