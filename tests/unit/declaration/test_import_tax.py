"""Stories of customs' tax messages about an import list: the electronic tax bill (CEB816 电子税单) and its
status (CEB818), recorded once on the list's stream, found by the invtNo customs gave the list in its CEB622.

A repeat changes nothing; a later status replaces an earlier one whatever order they arrive in; a message
overtaking its list's CEB622 waits (parked) and is recorded once the CEB622 numbers the list; a message
breaking a field's facet, or whose invtNo can name no list, is refused (dead-lettered) naming the field.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cbec.contracts.base import ContractError
from cbec.contracts.customs import ReceiptReceived
from cbec.contracts.events import DeclarationEvent, TaxBillRecorded, TaxStatusRecorded
from cbec.declaration import dispatch, feedback_handling
from cbec.declaration.ports import Position
from cbec.declaration.views import status_view
from cbec_testkit.samples import DECLARANT
from conftest import Clearance, World

LIST = "CEB621"
FEEDBACK = "cbec.feedback.inventory.receipts:0"
_offsets = iter(range(1, 10_000))


def released_list(world: World, n: int, invt_no: str) -> Clearance:
    """A clearance declared, its list released by the saga and numbered by customs in its CEB622 (800)."""
    c = world.clearance(n)
    assert [o.result for o in world.declare_all(c)] == ["accepted"] * 4
    key = (DECLARANT, c.inventory["InventoryHead"]["copNo"])
    assert world.apps["inventory"].release(LIST, key)
    assert world.receipt(LIST, c.inventory, 800, "20261201100000000", {"invtNo": invt_no})
    return c


def tax_bill(invt_no: str, tax_no: str = "T1", status: str = "1", time: str = "20261201120000000",
             **fields: str) -> ReceiptReceived:
    """A CEB816 as the customs link hands it over (TaxHeadRd's text fields, business key the invtNo)."""
    node = {"guid": "G" * 36, "returnTime": time, "invtNo": invt_no, "taxNo": tax_no, "customsTax": "0",
            "valueAddedTax": "9.10000", "consumptionTax": "0", "status": status, "assureCode": DECLARANT, **fields}
    return ReceiptReceived(f"816-{invt_no}-{tax_no}-{time}-{status}", "CEB816", LIST, [invt_no], 0, time, "", node)


def tax_status(invt_no: str, tax_no: str, status: str, time: str, **fields: str) -> ReceiptReceived:
    node = {"guid": "H" * 36, "returnTime": time, "invtNo": invt_no, "taxNo": tax_no, "status": status, **fields}
    return ReceiptReceived(f"818-{invt_no}-{tax_no}-{time}-{status}", "CEB818", LIST, [invt_no], 0, time, "", node)


def deliver(world: World, message: ReceiptReceived) -> None:
    feedback_handling.apply(world.apps["inventory"], message, Position(FEEDBACK, next(_offsets)))


def bills(world: World, c: Clearance) -> list[dict[str, Any]]:
    return list(status_view(world.state(LIST, c.inventory)).get("taxBills", []))


def test_a_tax_bill_is_recorded_once_on_the_list_its_invt_no_names(world: World) -> None:
    c = released_list(world, 1, "31052026I000000001")
    deliver(world, tax_bill("31052026I000000001"))
    deliver(world, tax_bill("31052026I000000001"))  # delivered again: nothing changes

    [recorded] = world.events(LIST, "TaxBillRecorded")
    typed = TaxBillRecorded.from_dict(recorded)
    assert (typed.invt_no, typed.tax_no, typed.status, typed.value_added_tax) == (
        "31052026I000000001", "T1", "1", "9.10000")
    assert typed.clearance_key == c.key and typed.business_key == [DECLARANT, c.inventory["InventoryHead"]["copNo"]]
    published = DeclarationEvent.of(uuid.uuid4(), 9, "TaxBillRecorded", recorded)
    assert DeclarationEvent.from_json(published.to_json()).payload == typed  # valid against its schema
    [bill] = bills(world, c)
    assert bill == {"taxNo": "T1", "invtNo": "31052026I000000001", "status": "1", "statusTime": "20261201120000000",
                    "issued": "20261201120000000", "customsTax": "0", "valueAddedTax": "9.10000",
                    "consumptionTax": "0", "entDutyNo": "", "assureCode": DECLARANT}


def test_a_tax_status_changes_the_bill_and_an_older_one_arriving_late_does_not(world: World) -> None:
    c = released_list(world, 2, "31052026I000000002")
    deliver(world, tax_bill("31052026I000000002"))
    deliver(world, tax_status("31052026I000000002", "T1", "2", "20261231090000000", entDutyNo="D-1"))
    deliver(world, tax_status("31052026I000000002", "T1", "2", "20261231090000000", entDutyNo="D-1"))  # repeat
    deliver(world, tax_status("31052026I000000002", "T1", "1", "20261215090000000"))  # older, arrives late

    assert len(world.events(LIST, "TaxStatusRecorded")) == 2
    typed = TaxStatusRecorded.from_dict(world.events(LIST, "TaxStatusRecorded")[0])
    assert (typed.status, typed.ent_duty_no) == ("2", "D-1")
    [bill] = bills(world, c)
    assert (bill["status"], bill["statusTime"], bill["entDutyNo"], bill["valueAddedTax"]) == (
        "2", "20261231090000000", "D-1", "9.10000")


def test_a_status_before_its_bill_is_kept_and_the_bill_fills_the_amounts(world: World) -> None:
    c = released_list(world, 3, "31052026I000000003")
    deliver(world, tax_status("31052026I000000003", "T3", "3", "20261202090000000"))
    assert bills(world, c)[0]["valueAddedTax"] == ""
    deliver(world, tax_bill("31052026I000000003", "T3", time="20261201120000000"))
    [bill] = bills(world, c)
    assert (bill["status"], bill["valueAddedTax"], bill["issued"]) == ("3", "9.10000", "20261201120000000")


@pytest.mark.parametrize(("field", "value", "path"), [
    ("valueAddedTax", "-1", "TaxHeadRd.valueAddedTax"),
    ("customsTax", "1.123456", "TaxHeadRd.customsTax"),
    ("consumptionTax", "<script>", "TaxHeadRd.consumptionTax"),
    ("status", "9", "TaxHeadRd.status"),
    ("taxNo", "", "TaxHeadRd.taxNo"),
    ("taxNo", "T" * 51, "TaxHeadRd.taxNo"),
    ("returnTime", "2026-12-01", "TaxHeadRd.returnTime"),
    ("entDutyNo", "D" * 51, "TaxHeadRd.entDutyNo"),
])
def test_a_tax_bill_breaking_a_fields_facet_is_refused_naming_the_field(
    world: World, field: str, value: str, path: str,
) -> None:
    released_list(world, 4, "31052026I000000004")
    with pytest.raises(ContractError) as refused:
        deliver(world, tax_bill("31052026I000000004", **{field: value}))
    assert [e.path for e in refused.value.errors] == [path]
    assert world.events(LIST, "TaxBillRecorded") == []


def test_a_tax_message_whose_invt_no_is_missing_or_ill_formed_is_dead_lettered_naming_it(world: World) -> None:
    released_list(world, 5, "31052026I000000005")
    app = world.apps["inventory"]
    handle = dispatch.handlers(app)["cbec.feedback.inventory.receipts"]
    for message in (tax_bill(""), tax_status("3105-2026-I-9", "T9", "2", "20261231090000000")):
        handle(message.to_json(), Position(FEEDBACK, next(_offsets)))
    letters = [d for _, _, t, d in world.stores["inventory"].log if t == "CommandDeadLettered"]
    assert [[e["path"] for e in letter["errors"]] for letter in letters] == [["TaxHeadRd.invtNo"],
                                                                             ["TaxHeadStatus.invtNo"]]
    assert {e["code"] for letter in letters for e in letter["errors"]} == {"CBEC-2010"}
    assert world.events(LIST, "TaxBillRecorded") == []


def test_a_tax_bill_before_its_lists_ceb622_is_recorded_once_the_ceb622_numbers_the_list(world: World) -> None:
    c = world.clearance(6)
    assert [o.result for o in world.declare_all(c)] == ["accepted"] * 4
    assert world.apps["inventory"].release(LIST, (DECLARANT, c.inventory["InventoryHead"]["copNo"]))
    bill = tax_bill("31052026I000000006")
    deliver(world, bill)  # customs' tax bill overtakes the list's CEB622
    deliver(world, bill)  # and is delivered again
    assert world.events(LIST, "TaxBillRecorded") == []
    assert [d["receiptId"] for _, _, t, d in world.stores["inventory"].log if t == "ResultParked" and "result" in d] \
        == [bill.receipt_id]

    assert world.receipt(LIST, c.inventory, 800, "20261201100000000", {"invtNo": "31052026I000000006"})
    [recorded] = world.events(LIST, "TaxBillRecorded")
    assert (recorded["invtNo"], recorded["taxNo"], recorded["resultId"]) == (
        "31052026I000000006", "T1", bill.receipt_id)
    assert [b["valueAddedTax"] for b in bills(world, c)] == ["9.10000"]


def test_a_tax_bill_breaking_a_facet_is_refused_even_before_its_list_is_numbered(world: World) -> None:
    with pytest.raises(ContractError) as refused:
        deliver(world, tax_bill("31052026I000000007", valueAddedTax="-1"))
    assert [e.path for e in refused.value.errors] == ["TaxHeadRd.valueAddedTax"]
    assert [t for _, _, t, _ in world.stores["inventory"].log if t == "ResultParked"] == []
