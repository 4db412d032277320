"""Stories of the inventory service's export documents: the list (CEB603), its cancel (CEB605), the return
(CEB213 退货申请单) and its tally at the site (CEB215), and the summary (CEB701 汇总申请单) with customs'
result (CEB792 汇总结果单).

A list belongs to its order's clearance ``E:<ebcCode>:<orderNo>``; customs numbers it (invtNo) in its
CEB604, and the documents naming that number join its clearance. A summary spans the clearances of its
lists; customs numbers it (sumNo) in its CEB702 and its result is recorded once on the summary's stream.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.contracts.customs import ReceiptReceived, summary_result_node
from cbec.contracts.events import SummaryResultRecorded
from cbec.declaration import feedback_handling
from cbec.declaration.http import make_http_app
from cbec.declaration.ports import Position
from cbec_testkit.samples import DECLARANT, SITE_OPERATOR
from conftest import World, build_world, not_read_back
from export_samples import OTHER_AGENT, OTHER_SITE, SELLER, ExportClearance, export_registry, sample, summary
from fastapi.testclient import TestClient

LIST = "CEB603"


@pytest.fixture
def world() -> Iterator[World]:
    built = build_world(tenants=export_registry())
    yield built
    assert not_read_back(built) == []


def numbered_list(world: World, c: ExportClearance, invt_no: str, trade_mode: str = "9610") -> None:
    """The list declared, released, and numbered by customs in its CEB604."""
    assert world.declare(LIST, DECLARANT, c.inventory(trade_mode)).result == "accepted"
    assert world.apps["inventory"].release(LIST, (DECLARANT, c.cop_no))
    assert world.receipt(LIST, c.inventory(), 120, "20261201100000000", {"invtNo": invt_no, "preNo": "P1"})


@pytest.mark.parametrize("trade_mode", ["9610", "9710", "9810", "1210"])
def test_an_export_list_joins_its_orders_clearance_and_waits_for_the_saga(world: World, trade_mode: str) -> None:
    c = ExportClearance(1)
    outcome = world.declare(LIST, DECLARANT, c.inventory(trade_mode))
    assert (outcome.result, outcome.status) == ("accepted", "held"), outcome.errors
    assert world.state(LIST, c.inventory()).clearance_key == c.key


def test_an_overseas_platforms_list_names_ebp_code_wu(world: World) -> None:
    c = ExportClearance(2, ebp="无")
    assert world.declare(LIST, DECLARANT, c.inventory()).result == "accepted"
    assert world.state(LIST, c.inventory()).clearance_key == c.key


def test_customs_number_for_a_list_is_kept_with_its_receipt(world: World) -> None:
    c = ExportClearance(3)
    numbered_list(world, c, "51652026E000000003")
    assert world.state(LIST, c.inventory()).numbers == {"invtNo": "51652026E000000003"}
    [receipt] = world.events(LIST, "ReceiptRecorded")
    assert receipt["numbers"] == {"invtNo": "51652026E000000003"}


def test_a_list_accepted_by_customs_no_longer_changes(world: World) -> None:
    c = ExportClearance(4)
    numbered_list(world, c, "INV4")
    changed = c.inventory()
    changed["InventoryHead"]["note"] = "a change"
    [error] = world.declare(LIST, DECLARANT, changed).errors
    assert (error.code, error.path) == ("CBEC-2003", "InventoryHead.appType")


def test_a_cancel_joins_the_clearance_of_its_list(world: World) -> None:
    c = ExportClearance(5)
    numbered_list(world, c, "INV5")
    outcome = world.declare("CEB605", DECLARANT, c.cancel("INV5"))
    assert (outcome.result, outcome.status) == ("accepted", "held")
    assert world.state("CEB605", c.cancel("INV5")).clearance_key == c.key
    again = c.cancel("INV5")
    again.update(appType="2", reason="changed my mind")
    [error] = world.declare("CEB605", DECLARANT, again).errors
    assert (error.code, error.path) == ("CBEC-2004", "InvtCancel.appType")  # a cancel is only ever new


def test_a_cancel_naming_another_number_than_customs_gave_its_list_is_refused(world: World) -> None:
    c = ExportClearance(13)
    numbered_list(world, c, "INV13")
    [error] = world.declare("CEB605", DECLARANT, c.cancel("INV99")).errors
    assert (error.code, error.path) == ("CBEC-2010", "InvtCancel.invtNo")


def test_a_return_and_its_tally_join_the_list_customs_numbered(world: World) -> None:
    c = ExportClearance(6)
    numbered_list(world, c, "INV6")
    assert world.declare("CEB213", DECLARANT, c.export_return("INV6")).status == "held"
    assert world.state("CEB213", c.export_return("INV6")).clearance_key == c.key
    assert world.declare("CEB215", SITE_OPERATOR, c.tally("INV6")).status == "held"
    [tally] = world.events("CEB215", "DocumentReceived")
    assert (tally["clearanceKeys"], tally["logisticsNos"]) == ([c.key], [c.logistics_no])


@pytest.mark.parametrize(("code", "build", "sender", "path"), [
    ("CEB605", lambda c: c.cancel("NOPE"), DECLARANT, "InvtCancel.invtNo"),
    ("CEB213", lambda c: c.export_return("NOPE"), DECLARANT, "InvtRefundHead.invtNo"),
    ("CEB215", lambda c: c.tally("NOPE"), SITE_OPERATOR, "InvtRefundDetail.invtNo"),
    ("CEB701", lambda c: summary("S1", "NOPE"), DECLARANT, "SummaryApplyList[1].invtNo"),
])
def test_a_document_naming_a_list_not_declared_here_is_refused_naming_the_field(
    world: World, code: str, build: Any, sender: str, path: str
) -> None:
    [error] = world.declare(code, sender, build(ExportClearance(7))).errors
    assert (error.code, error.path) == ("CBEC-2010", path)


def test_a_summary_spans_the_clearances_of_its_lists(world: World) -> None:
    first, second = ExportClearance(8), ExportClearance(9)
    numbered_list(world, first, "INV8")
    numbered_list(world, second, "INV9")
    outcome = world.declare("CEB701", DECLARANT, summary("SUM1", "INV8", "INV9", "INV8"))
    assert (outcome.result, outcome.status) == ("accepted", "held")
    [received] = world.events("CEB701", "DocumentReceived")
    assert received["clearanceKeys"] == [first.key, second.key]


def summary_result(sum_no: str, *invt_nos: str, key: list[str] | None = None) -> ReceiptReceived:
    """Customs' CEB792 as the customs link hands it to the summary's owner."""
    result = sample("CEB792")
    head = {**result["SummaryResultHead"], "sumNo": sum_no, "agentCode": DECLARANT}
    lines = [{"invtNo": n, "logisticsNo": "L", "gnum": "1"} for n in invt_nos]
    return ReceiptReceived(f"sr-{sum_no}", "CEB792", "CEB701", key or [], 0, head["opDate"], "",
                           summary_result_node(head, lines))


def test_customs_summary_result_is_recorded_once_on_the_summarys_stream_found_by_its_sum_no(world: World) -> None:
    app = world.apps["inventory"]
    numbered_list(world, ExportClearance(10), "INV10")
    document = summary("SUM10", "INV10")
    world.declare("CEB701", DECLARANT, document)
    assert app.release("CEB701", (DECLARANT, "SUM10"))
    assert world.receipt("CEB701", document, 120, "20261201100000000", {"sumNo": "S51652026000010"})
    result = summary_result("S51652026000010", "INV10", "INV10")
    feedback_handling.apply(app, result, Position("cbec.feedback.inventory.receipts:0", 1))
    feedback_handling.apply(app, result, Position("cbec.feedback.inventory.receipts:0", 2))  # delivered again
    [recorded] = world.events("CEB701", "SummaryResultRecorded")
    typed = SummaryResultRecorded.from_dict(recorded)
    assert (typed.sum_no, typed.invt_nos, typed.dec_state) == ("S51652026000010", ["INV10"], "A")
    assert typed.clearance_key == f"{DECLARANT}:SUM10" and typed.business_key == [DECLARANT, "SUM10"]


def test_a_summary_result_naming_the_summarys_key_needs_no_sum_no_and_one_for_no_summary_yet_waits(
    world: World,
) -> None:
    app = world.apps["inventory"]
    numbered_list(world, ExportClearance(11), "INV11")
    world.declare("CEB701", DECLARANT, summary("SUM11", "INV11"))
    assert app.record_result(summary_result("S-UNSEEN", "INV11", key=[DECLARANT, "SUM11"]))
    assert not app.record_result(summary_result("SNOBODY", "INV11"))  # parked for its CEB702 (test_parked_results)
    assert len(world.events("CEB701", "SummaryResultRecorded")) == 1


def test_another_enterprise_cannot_send_nor_read_a_list_and_a_repeat_is_idempotent(world: World) -> None:
    c = ExportClearance(12)
    [error] = world.declare(LIST, OTHER_AGENT, c.inventory()).errors
    assert (error.code, error.path) == ("CBEC-1003", "InventoryHead.agentCode")
    [error] = world.declare("CEB215", OTHER_SITE, c.tally("")).errors
    assert (error.code, error.path) == ("CBEC-1003", "InvtRefundDetail.operatorCode")
    assert world.declare(LIST, DECLARANT, c.inventory(), command_id="once").result == "accepted"
    stored = copy.deepcopy(world.events(LIST))
    assert world.declare(LIST, DECLARANT, c.inventory(), command_id="once").result == "duplicate"
    assert world.declare(LIST, DECLARANT, c.inventory()).result == "duplicate"
    assert world.events(LIST) == stored
    keys = {tenant: issue_key(tenant) for tenant in (DECLARANT, OTHER_AGENT, SELLER)}
    client = TestClient(make_http_app(world.apps["inventory"], "inventory",
                                      auth=ApiKeyRegistry(r for _, r in keys.values())))
    location = f"/v1/documents/{LIST}/{DECLARANT}/{c.cop_no}"
    assert client.get(location, headers={"X-Api-Key": keys[OTHER_AGENT][0]}).status_code == 404
    assert client.get(location, headers={"X-Api-Key": keys[DECLARANT][0]}).status_code == 200
    assert client.get(location, headers={"X-Api-Key": keys[SELLER][0]}).status_code == 200  # the seller is a party
