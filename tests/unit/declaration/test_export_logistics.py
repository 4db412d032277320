"""Stories of the logistics service's export documents: the waybill (CEB505), the arrival at the site
(CEB507 运抵单), the departure (CEB509 离境单) and the master bill (CEB607 清单总分单).

An export waybill names no order: its command does (``orderNo``), and it joins ``E:<ebcCode>:<orderNo>``.
The other three list waybills and span their clearances (``clearanceKeys``). All four wait for the saga.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.declaration.http import make_http_app
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, SITE_OPERATOR
from conftest import World, build_world, not_read_back
from export_samples import (
    OTHER_AGENT,
    OTHER_CARRIER,
    OTHER_SITE,
    SELLER,
    ExportClearance,
    arrival,
    departure,
    export_registry,
    master_bill,
)
from fastapi.testclient import TestClient

WAYBILL = "CEB505"


@pytest.fixture
def world() -> Iterator[World]:
    built = build_world(tenants=export_registry())
    yield built
    assert not_read_back(built) == []


def declare_waybill(world: World, c: ExportClearance, **envelope: str) -> Any:
    return world.declare(WAYBILL, LOGISTICS_COMPANY, c.waybill(), order_no=envelope.get("order_no", c.order_no),
                         ebc_code=envelope.get("ebc_code", ""))


def test_an_export_waybill_joins_the_clearance_of_the_order_its_command_names_and_waits(world: World) -> None:
    c = ExportClearance(1)
    outcome = declare_waybill(world, c)
    assert (outcome.result, outcome.status) == ("accepted", "held")
    assert world.state(WAYBILL, c.waybill()).clearance_key == c.key


def test_a_waybill_without_its_seller_takes_the_commands_ebc_code(world: World) -> None:
    c = ExportClearance(2)
    bare = c.waybill()
    for name in ("ebcCode", "ebcName", "ebcTelephone"):
        bare.pop(name)
    assert world.declare(WAYBILL, LOGISTICS_COMPANY, bare, order_no=c.order_no, ebc_code=SELLER).result == "accepted"
    assert world.state(WAYBILL, bare).clearance_key == c.key


def test_a_waybill_command_naming_no_order_or_another_seller_is_refused_naming_the_field(world: World) -> None:
    c = ExportClearance(3)
    [error] = declare_waybill(world, c, order_no="").errors
    assert (error.code, error.path) == ("CBEC-0002", "orderNo")
    [error] = declare_waybill(world, c, ebc_code="3105960099").errors
    assert (error.code, error.path) == ("CBEC-0002", "ebcCode")
    [error] = declare_waybill(world, c, order_no="EXP 3").errors
    assert (error.code, error.path) == ("CBEC-0013", "orderNo")


def test_a_second_waybill_version_in_flight_and_a_change_after_the_list_are_refused(world: World) -> None:
    c = ExportClearance(4)
    declare_waybill(world, c)
    assert world.apps["logistics"].release(WAYBILL, (LOGISTICS_COMPANY, c.logistics_no))
    changed = c.waybill()
    changed["note"] = "a second version"
    [error] = world.declare(WAYBILL, LOGISTICS_COMPANY, changed, order_no=c.order_no).errors
    assert (error.code, error.path) == ("-504012", "Logistics.logisticsCode/logisticsNo")
    assert world.receipt(WAYBILL, c.waybill(), 120, "20261201100000000")
    assert world.apps["logistics"].lock_clearance(c.key)
    [error] = world.declare(WAYBILL, LOGISTICS_COMPANY, changed, order_no=c.order_no).errors
    assert (error.code, error.path) == ("-504016", "Logistics.appType")


@pytest.mark.parametrize(("code", "build", "sender"), [
    ("CEB507", lambda *c: arrival("ARR1", *c), SITE_OPERATOR),
    ("CEB509", lambda *c: departure("DEP1", *c), LOGISTICS_COMPANY),
    ("CEB607", lambda *c: master_bill("MB1", *((x, f"INV{x.n}") for x in c)), DECLARANT),
])
def test_a_document_listing_waybills_spans_their_clearances_and_waits(
    world: World, code: str, build: Any, sender: str
) -> None:
    first, second, unknown = ExportClearance(5), ExportClearance(6), ExportClearance(7)
    declare_waybill(world, first)
    declare_waybill(world, second)
    document = build(first, second, first, unknown)  # a waybill listed twice, one never declared
    outcome = world.declare(code, sender, document)
    assert (outcome.result, outcome.status) == ("accepted", "held"), outcome.errors
    [received] = world.events(code, "DocumentReceived")
    assert received["clearanceKeys"] == [first.key, second.key]
    assert received["logisticsNos"] == [first.logistics_no, second.logistics_no, first.logistics_no,
                                        unknown.logistics_no]
    assert received["clearanceKey"] == ":".join(received["businessKey"])


@pytest.mark.parametrize(("code", "build", "sender", "stranger", "field"), [
    ("CEB507", lambda c: arrival("ARR1", c), SITE_OPERATOR, OTHER_SITE, "ArrivalHead.operatorCode"),
    ("CEB509", lambda c: departure("DEP1", c), LOGISTICS_COMPANY, OTHER_CARRIER, "DepartureHead.logisticsCode"),
    ("CEB607", lambda c: master_bill("MB1", (c, "INV1")), DECLARANT, OTHER_AGENT, "WayBillHead.agentCode"),
    (WAYBILL, lambda c: c.waybill(), LOGISTICS_COMPANY, OTHER_CARRIER, "Logistics.logisticsCode"),
])
def test_another_enterprise_cannot_send_nor_read_it_and_a_repeat_is_idempotent(
    world: World, code: str, build: Any, sender: str, stranger: str, field: str
) -> None:
    c = ExportClearance(8)
    document = build(c)
    [error] = world.declare(code, stranger, document, order_no=c.order_no).errors
    assert (error.code, error.path) == ("CBEC-1003", field)
    assert world.declare(code, sender, document, order_no=c.order_no, command_id="once").result == "accepted"
    stored = copy.deepcopy(world.events(code))
    assert world.declare(code, sender, document, order_no=c.order_no, command_id="once").result == "duplicate"
    assert world.declare(code, sender, document, order_no=c.order_no).result == "duplicate"
    assert world.events(code) == stored
    keys = {tenant: issue_key(tenant) for tenant in (sender, stranger)}
    client = TestClient(make_http_app(world.apps["logistics"], "logistics",
                                      auth=ApiKeyRegistry(r for _, r in keys.values())))
    location = f"/v1/documents/{code}/" + "/".join(stored[0]["businessKey"])
    assert client.get(location, headers={"X-Api-Key": keys[stranger][0]}).status_code == 404
    assert client.get(location, headers={"X-Api-Key": keys[sender][0]}).status_code == 200


def test_a_document_listing_waybills_holds_at_most_a_thousand(world: World) -> None:
    many = [ExportClearance(n) for n in range(10, 1011)]
    [error] = world.declare("CEB507", SITE_OPERATOR, arrival("ARR9", *many)).errors
    assert (error.code, error.path) == ("CBEC-0014", "ArrivalList")
