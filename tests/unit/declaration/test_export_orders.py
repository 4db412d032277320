"""Stories of the order service's export order (CEB303): the seller's order of an export clearance.

It is released at once into the clearance ``E:<ebcCode>:<orderNo>``; an overseas platform without a
customs code declares ebpCode ``无``; customs' order codes refuse a second version in flight (-301010)
and a change once the list is declared (-301011); only the seller (or its platform) sends it and reads it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.declaration.http import make_http_app
from cbec_testkit.samples import PAYMENT_COMPANY
from conftest import World, build_world, not_read_back
from export_samples import OTHER_SELLER, SELLER, ExportClearance, export_registry
from fastapi.testclient import TestClient

CODE = "CEB303"


@pytest.fixture
def world() -> Iterator[World]:
    built = build_world(tenants=export_registry())
    yield built
    assert not_read_back(built) == []


def test_an_export_order_is_released_at_once_into_its_sellers_clearance(world: World) -> None:
    c = ExportClearance(1)
    outcome = world.declare(CODE, SELLER, c.order())
    assert (outcome.result, outcome.status) == ("accepted", "released")
    [received] = world.events(CODE, "DocumentReceived")
    assert received["clearanceKey"] == c.key == f"E:{SELLER}:{c.order_no}"
    assert received["businessKey"] == [SELLER, SELLER, c.order_no]
    assert [e["clearanceKey"] for e in world.events(CODE, "DocumentReleased")] == [c.key]


@pytest.mark.parametrize("order_type", ["E", "B", "W"])  # B2C, B2B (9710), overseas-warehouse booking (9810)
def test_every_order_type_is_one_export_order(world: World, order_type: str) -> None:
    c = ExportClearance(2)
    assert world.declare(CODE, SELLER, c.order(order_type)).result == "accepted"


def test_an_overseas_platform_without_a_customs_code_declares_ebp_code_wu(world: World) -> None:
    c = ExportClearance(3, ebp="无")
    outcome = world.declare(CODE, SELLER, c.order())
    assert outcome.result == "accepted", outcome.errors
    assert world.state(CODE, c.order()).clearance_key == f"E:{SELLER}:{c.order_no}"


def test_any_other_character_in_a_key_field_is_refused_naming_it(world: World) -> None:
    order = ExportClearance(4).order()
    order["OrderHead"]["orderNo"] = "EXP 0004"
    [error] = world.declare(CODE, SELLER, order).errors
    assert (error.code, error.path) == ("CBEC-0013", "OrderHead.orderNo")
    order = ExportClearance(4, ebp="無").order()  # not the character customs names
    [error] = world.declare(CODE, SELLER, order).errors
    assert (error.code, error.path) == ("CBEC-0013", "OrderHead.ebpCode")


def test_a_second_version_while_customs_has_not_answered_is_refused_with_customs_code(world: World) -> None:
    c = ExportClearance(5)
    world.declare(CODE, SELLER, c.order())
    changed = c.order()
    changed["OrderHead"]["note"] = "a second version"
    [error] = world.declare(CODE, SELLER, changed).errors
    assert (error.code, error.path) == ("-301010", "OrderHead.ebpCode/ebcCode/orderNo")


def test_once_the_clearances_list_is_declared_the_order_no_longer_changes(world: World) -> None:
    c = ExportClearance(6)
    world.declare(CODE, SELLER, c.order())
    assert world.receipt(CODE, c.order(), 120, "20261201100000000")
    assert world.app_for(CODE).lock_clearance(c.key)
    changed = c.order()
    changed["OrderHead"]["note"] = "too late"
    [error] = world.declare(CODE, SELLER, changed).errors
    assert (error.code, error.path) == ("-301011", "OrderHead.appType")


def test_the_receipt_is_recorded_on_the_orders_stream(world: World) -> None:
    c = ExportClearance(7)
    world.declare(CODE, SELLER, c.order())
    assert world.receipt(CODE, c.order(), 120, "20261201100000000")
    assert world.state(CODE, c.order()).status_code == 120


def test_another_enterprise_cannot_send_the_sellers_order(world: World) -> None:
    order = ExportClearance(8).order()
    [error] = world.declare(CODE, OTHER_SELLER, order).errors
    assert (error.code, error.path) == ("CBEC-1003", "OrderHead.ebcCode")
    [error] = world.declare(CODE, PAYMENT_COMPANY, order).errors
    assert (error.code, error.path) == ("-10101", "sender")
    assert world.events(CODE, "DocumentReceived") == []


def test_another_enterprise_cannot_change_it_nor_read_it(world: World) -> None:
    c = ExportClearance(9)
    world.declare(CODE, SELLER, c.order())
    assert world.receipt(CODE, c.order(), 120, "20261201100000000")
    taken = c.order()
    taken["OrderHead"].update(appType="2", note="mine now")
    [error] = world.declare(CODE, OTHER_SELLER, taken).errors
    assert error.code == "CBEC-1005"
    keys = {tenant: issue_key(tenant) for tenant in (SELLER, OTHER_SELLER)}
    client = TestClient(make_http_app(world.app_for(CODE), "order", auth=ApiKeyRegistry(r for _, r in keys.values())))
    location = f"/v1/documents/{CODE}/{SELLER}/{SELLER}/{c.order_no}"
    assert client.get(location, headers={"X-Api-Key": keys[OTHER_SELLER][0]}).status_code == 404
    mine = client.get(location, headers={"X-Api-Key": keys[SELLER][0]})
    assert mine.status_code == 200 and mine.json()["document"]["OrderHead"]["note"] != "mine now"


def test_a_repeat_is_idempotent(world: World) -> None:
    c = ExportClearance(10)
    first = world.declare(CODE, SELLER, c.order(), command_id="same")
    stored = copy.deepcopy(world.events(CODE))
    assert world.declare(CODE, SELLER, c.order(), command_id="same").result == "duplicate"
    assert world.declare(CODE, SELLER, c.order()).result == "duplicate"  # the same content, a new command
    assert world.events(CODE) == stored and first.result == "accepted"


@pytest.mark.parametrize(("where", "field", "value"), [
    ("OrderList", "currency", "人民币"), ("OrderList", "unit", "11吨"), ("OrderHead", "currency", "USD"),
])
def test_an_order_naming_no_customs_code_is_refused_naming_the_field_the_rule_and_the_code(
    world: World, where: str, field: str, value: str
) -> None:
    order = ExportClearance(11).order()
    node = order[where][0] if where == "OrderList" else order[where]
    node[field] = value
    [error] = world.declare(CODE, SELLER, order).errors
    path = f"Order[1].{where}[1].{field}" if where == "OrderList" else f"Order[1].{where}.{field}"
    assert (error.code, error.path) == ("CBEC-CODE", path)
    assert error.rule.startswith("§9 JGS-20") and value in error.message


def test_a_change_dated_before_the_version_customs_has_is_refused_with_customs_code(world: World) -> None:
    c = ExportClearance(12)
    order = c.order()
    order["OrderHead"]["appTime"] = "20261201100000"
    world.declare(CODE, SELLER, order)
    assert world.receipt(CODE, order, 120, "20261201100000000")
    older = copy.deepcopy(order)
    older["OrderHead"].update(appType="2", appTime="20261201090000", note="older")
    [error] = world.declare(CODE, SELLER, older).errors
    assert (error.code, error.path) == ("-301014", "OrderHead.appTime")
    older["OrderHead"]["appTime"] = "20261201110000"
    assert world.declare(CODE, SELLER, older).result == "accepted"


def test_an_export_order_holds_a_hundred_lines_as_its_xsd_says(world: World) -> None:
    order = ExportClearance(13).order()
    line = order["OrderList"][0]
    order["OrderList"] = [{**line, "gnum": str(i)} for i in range(1, 101)]
    order["OrderHead"]["goodsValue"] = "200000"
    assert world.declare(CODE, SELLER, order).result == "accepted"
    order["OrderList"].append({**line, "gnum": "101"})
    order["OrderHead"]["orderNo"] = "EXP00000013B"
    [error] = world.declare(CODE, SELLER, order).errors
    assert (error.code, error.path) == ("CBEC-0014", "OrderList")
