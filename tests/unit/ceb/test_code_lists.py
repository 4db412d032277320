"""Stories of the customs code tables shipped as package data (``cbec/ceb/official/``): the one-digit wrap
types CEB messages carry, the partial numeric currencies and the customs districts checked by form only.

The expected rows below are facts from the sources the official README names (the old one-digit 包装种类
table, as three public transcriptions give it), not read back from the shipped files."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cbec.ceb import code_lists
from cbec.ceb.codec import parse
from cbec.ceb.model import CebMessage
from cbec.ceb.rules import validate_business
from cbec.errors import CebError
from ceb_samples import samples_dir

# The old customs 包装种类 table (one digit) that the CEB XSDs' wrapType takes its codes from.
WRAP_TYPES = {"1": "木箱", "2": "纸箱", "3": "桶装", "4": "散装", "5": "托盘", "6": "包", "7": "其它"}


def sample(kind: str, code: str) -> dict[str, Any]:
    return copy.deepcopy(parse((samples_dir() / kind / f"{code}Message.xml").read_bytes(), strict=False).docs[0])


def export_list() -> dict[str, Any]:
    """The official CEB603 sample, made a valid 9610 export list (its own placeholders replaced)."""
    inventory = sample("export", "CEB603")
    inventory["InventoryHead"].update(ieFlag="E", tradeMode="9610", country="502", portCode="5165",
                                      customsCode="5165")
    inventory["InventoryList"][0].update(country="142", currency="142", unit2="", qty2="", totalPrice="2000")
    return inventory


def errors(code: str, doc: dict[str, Any]) -> list[CebError]:
    return validate_business(CebMessage(type=code, docs=[doc], guid="G"), before_signing=True)


def test_the_wrap_type_table_is_complete_and_holds_the_seven_old_one_digit_kinds() -> None:
    assert code_lists.WRAP_TYPE.complete
    assert code_lists.WRAP_TYPE.codes == WRAP_TYPES
    assert code_lists.WRAP_TYPE in code_lists.TABLES


def test_an_export_list_packed_in_cartons_passes_and_one_with_an_unknown_kind_is_refused_naming_it() -> None:
    inventory = export_list()
    inventory["InventoryHead"]["wrapType"] = "2"  # 纸箱
    assert errors("CEB603", inventory) == []

    inventory["InventoryHead"]["wrapType"] = "8"  # one digit, but no kind of the table
    [error] = errors("CEB603", inventory)
    assert (error.code, error.path) == ("CBEC-CODE", "Inventory[1].InventoryHead.wrapType")
    assert code_lists.WRAP_TYPE.name in error.rule
    assert "'8'" in error.message and code_lists.WRAP_TYPE.file in error.message


def test_an_import_list_shares_the_wrap_type_table() -> None:
    inventory = sample("import", "CEB621")
    before = {(e.code, e.path) for e in errors("CEB621", inventory)}
    assert inventory["InventoryHead"]["wrapType"] == "1"  # the official sample packs in wooden cases

    inventory["InventoryHead"]["wrapType"] = "9"
    after = {(e.code, e.path) for e in errors("CEB621", inventory)}
    assert after - before == {("CBEC-CODE", "Inventory[1].InventoryHead.wrapType")}


def test_an_import_list_leaving_its_optional_wrap_type_out_is_not_refused_for_it() -> None:
    inventory = sample("import", "CEB621")
    del inventory["InventoryHead"]["wrapType"]
    assert not [e for e in errors("CEB621", inventory) if e.path.endswith("wrapType")]


@pytest.mark.parametrize("field", ["fCurrency", "iCurrency"])
def test_an_export_list_naming_its_currency_in_words_is_refused_naming_the_field(field: str) -> None:
    inventory = export_list()
    inventory["InventoryHead"][field] = "人民币"
    [error] = errors("CEB603", inventory)
    assert (error.code, error.path) == ("CBEC-CODE", f"Inventory[1].InventoryHead.{field}")
    assert code_lists.CURRENCY.name in error.rule and "'人民币'" in error.message


def test_an_import_order_keeps_its_own_rule_currency_142_only() -> None:
    order = sample("import", "CEB311")
    assert not [e for e in errors("CEB311", order) if e.path.endswith("currency")]
    order["OrderHead"]["currency"] = "502"  # a real numeric currency, but import is paid in renminbi
    assert ("CBEC-CURRENCY", "Order[1].OrderHead.currency") in {(e.code, e.path) for e in errors("CEB311", order)}


def test_the_currency_table_stays_partial_and_names_the_codes_two_sources_agree_on() -> None:
    assert not code_lists.CURRENCY.complete
    for code, name in [("142", "人民币"), ("502", "美元"), ("110", "港币"), ("116", "日本元"), ("300", "欧元"),
                       ("122", "马来西亚林吉特"), ("143", "台币")]:
        assert code_lists.name_of(code_lists.CURRENCY, code) == name
    assert code_lists.check(code_lists.CURRENCY, "344") is None  # well formed, not shipped: accepted


@pytest.mark.parametrize("field", ["customsCode", "portCode"])
def test_a_customs_district_is_checked_by_its_four_digit_form_only(field: str) -> None:
    inventory = export_list()
    inventory["InventoryHead"][field] = "9999"  # no complete public 关区 table: cannot be refused
    assert errors("CEB603", inventory) == []
    inventory["InventoryHead"][field] = "51A5"
    [error] = errors("CEB603", inventory)
    assert (error.code, error.path) == ("CBEC-CODE", f"Inventory[1].InventoryHead.{field}")
    assert not code_lists.CUSTOMS_DISTRICT.complete
