"""Stories of the payment service's collection (CEB403 收款单): the seller records that the buyer paid.

Released at once into its order's clearance ``E:<ebcCode>:<orderNo>``; customs' codes refuse a second
version in flight (-401007) and a change once the list is declared (-401008); only the seller (or its
platform) sends it and reads it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.declaration.http import make_http_app
from cbec_testkit.samples import LOGISTICS_COMPANY
from conftest import World, build_world, not_read_back
from export_samples import OTHER_SELLER, SELLER, ExportClearance, export_registry
from fastapi.testclient import TestClient

CODE = "CEB403"


@pytest.fixture
def world() -> Iterator[World]:
    built = build_world(tenants=export_registry())
    yield built
    assert not_read_back(built) == []


def test_a_collection_is_released_at_once_into_its_orders_clearance(world: World) -> None:
    c = ExportClearance(1)
    outcome = world.declare(CODE, SELLER, c.collection())
    assert (outcome.result, outcome.status) == ("accepted", "released")
    assert world.state(CODE, c.collection()).clearance_key == c.key
    assert world.declare("CEB303", SELLER, c.order()).result == "accepted"
    assert world.state("CEB303", c.order()).clearance_key == c.key  # the order's clearance


def test_an_overseas_platforms_collection_names_ebp_code_wu(world: World) -> None:
    c = ExportClearance(2, ebp="无")
    assert world.declare(CODE, SELLER, c.collection()).result == "accepted"


def test_a_second_version_in_flight_and_a_change_after_the_list_are_refused_with_customs_codes(world: World) -> None:
    c = ExportClearance(3)
    world.declare(CODE, SELLER, c.collection())
    changed = c.collection()
    changed["note"] = "a second version"
    [error] = world.declare(CODE, SELLER, changed).errors
    assert (error.code, error.path) == ("-401007", "Receipts.ebcCode/orderNo")
    assert world.receipt(CODE, c.collection(), 120, "20261201100000000")
    assert world.app_for(CODE).lock_clearance(c.key)
    [error] = world.declare(CODE, SELLER, changed).errors
    assert (error.code, error.path) == ("-401008", "Receipts.appType")


def test_another_enterprise_cannot_send_change_or_read_it(world: World) -> None:
    c = ExportClearance(4)
    [error] = world.declare(CODE, LOGISTICS_COMPANY, c.collection()).errors
    assert (error.code, error.path) == ("-10101", "sender")
    [error] = world.declare(CODE, OTHER_SELLER, c.collection()).errors
    assert (error.code, error.path) == ("CBEC-1003", "Receipts.ebcCode")
    world.declare(CODE, SELLER, c.collection())
    assert world.receipt(CODE, c.collection(), 120, "20261201100000000")
    taken = c.collection()
    taken.update(appType="2", charge="1")
    assert [e.code for e in world.declare(CODE, OTHER_SELLER, taken).errors] == ["CBEC-1005"]
    keys = {tenant: issue_key(tenant) for tenant in (SELLER, OTHER_SELLER)}
    client = TestClient(make_http_app(world.app_for(CODE), "payment",
                                      auth=ApiKeyRegistry(r for _, r in keys.values())))
    location = f"/v1/documents/{CODE}/{SELLER}/{c.order_no}"
    assert client.get(location, headers={"X-Api-Key": keys[OTHER_SELLER][0]}).status_code == 404
    assert client.get(location, headers={"X-Api-Key": keys[SELLER][0]}).json()["document"]["charge"] == "2010"


def test_a_repeat_is_idempotent(world: World) -> None:
    c = ExportClearance(5)
    assert world.declare(CODE, SELLER, c.collection(), command_id="same").result == "accepted"
    stored = copy.deepcopy(world.events(CODE))
    assert world.declare(CODE, SELLER, c.collection(), command_id="same").result == "duplicate"
    assert world.declare(CODE, SELLER, c.collection()).result == "duplicate"
    assert world.events(CODE) == stored
