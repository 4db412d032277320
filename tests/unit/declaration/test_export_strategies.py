"""Stories of the export strategies (seed 003): a tenant declares its documents under a named preset
(9610清单, 9710清单, 9810清单, 9710报关单, 9810报关单), named by the command or by its tenant record.

The strategy fills the order's orderType and the list's tradeMode where they are left out, says whether a
list is declared at all (报关单模式: none), and travels on the public events for the saga. 9810 export
needs the seller's overseas-warehouse filing (海外仓备案) in its tenant record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cbec.contracts.commands import DeclareDocument
from cbec.contracts.events import DeclarationEvent
from cbec.declaration.doctypes import BY_CODE
from cbec.declaration.routing import route
from cbec.declaration.strategies import PRESETS
from cbec.settings import Settings
from cbec.tenants import TenantRegistry
from cbec.tenants_config import NoTenants, load_tenants
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY
from cbec_testkit.tenants import DEMO_TENANTS
from conftest import World, build_world, not_read_back
from export_samples import OTHER_SELLER, SELLER, ExportClearance, export_registry


def registry(**seller: str) -> TenantRegistry:
    """The export tenants, the seller's record with ``seller``'s fields (strategy, overseasWarehouseFiling)."""
    records = [{**r, **seller} if r["customsCode"] == SELLER else r
               for r in [*DEMO_TENANTS, *({"customsCode": t.customs_code, "name": t.name,
                                           "roles": sorted(t.roles), "dxpId": t.dxp_id}
                                          for t in export_registry().all() if t.customs_code == OTHER_SELLER)]]
    return TenantRegistry.from_json(records)


@pytest.fixture
def world() -> Iterator[World]:
    built = build_world(tenants=registry())
    yield built
    assert not_read_back(built) == []


def bare_order(c: ExportClearance) -> dict[str, Any]:
    order = c.order()
    del order["OrderHead"]["orderType"]
    return order


def bare_list(c: ExportClearance) -> dict[str, Any]:
    inventory = c.inventory()
    del inventory["InventoryHead"]["tradeMode"]
    return inventory


def received(world: World, code: str) -> dict[str, Any]:
    """The seller's DocumentReceived as the saga reads it on the service's events topic."""
    [(stream, version, data)] = [(s, v, d) for s, v, t, d in world.store_for(code).log
                                 if t == "DocumentReceived" and d["docType"] == code]
    [(_, _, raw), *_] = route(BY_CODE[code].service, stream, version + 1, "DocumentReceived", data)
    return dict(DeclarationEvent.from_json(raw).data)


@pytest.mark.parametrize(("name", "trade_mode", "order_type", "lists"), [
    ("9610清单", "9610", "E", True), ("9710清单", "9710", "B", True), ("9810清单", "9810", "W", True),
    ("9710报关单", "9710", "B", False), ("9810报关单", "9810", "W", False),
])
def test_the_five_presets(name: str, trade_mode: str, order_type: str, lists: bool) -> None:
    preset = PRESETS[name]
    assert (preset.trade_mode, preset.order_type, preset.declares_list) == (trade_mode, order_type, lists)


def test_a_strategy_fills_the_order_type_and_travels_on_the_public_event(world: World) -> None:
    c = ExportClearance(1)
    outcome = world.app_for("CEB303").declare(_command("CEB303", SELLER, bare_order(c), strategy="9710清单"))
    assert outcome.result == "accepted", outcome.errors
    assert world.state("CEB303", bare_order(c)).document["OrderHead"]["orderType"] == "B"  # type: ignore[index]
    event = received(world, "CEB303")
    assert (event["orderType"], event["strategy"]) == ("B", "9710清单")


def test_the_tenant_records_strategy_applies_when_the_command_names_none_and_the_commands_wins() -> None:
    world = build_world(tenants=registry(strategy="9710清单"))
    c, d = ExportClearance(2), ExportClearance(3)
    assert world.declare("CEB303", SELLER, bare_order(c)).result == "accepted"
    assert world.app_for("CEB303").declare(_command("CEB303", SELLER, bare_order(d), strategy="9610清单")).result \
        == "accepted"
    types = {s.document["OrderHead"]["orderNo"]: s.document["OrderHead"]["orderType"]  # type: ignore[index]
             for s in (world.state("CEB303", bare_order(c)), world.state("CEB303", bare_order(d)))}
    assert types == {c.order_no: "B", d.order_no: "E"}


def test_a_value_the_sender_gave_is_kept_and_one_contradicting_the_strategy_is_refused(world: World) -> None:
    c = ExportClearance(4)
    outcome = world.app_for("CEB303").declare(_command("CEB303", SELLER, c.order("E"), strategy="9710清单"))
    [error] = outcome.errors
    assert (error.code, error.path) == ("CBEC-1009", "OrderHead.orderType")


def test_under_a_customs_declaration_strategy_no_list_is_declared(world: World) -> None:
    c = ExportClearance(5)
    for code, sender, document, extra in (("CEB303", SELLER, bare_order(c), {}),
                                          ("CEB505", LOGISTICS_COMPANY, c.waybill(), {"order_no": c.order_no})):
        command = _command(code, sender, document, strategy="9710报关单", **extra)
        assert world.app_for(code).declare(command).result == "accepted"
    assert received(world, "CEB505")["strategy"] == "9710报关单"
    [error] = world.app_for("CEB603").declare(_command("CEB603", DECLARANT, bare_list(c), strategy="9710报关单")).errors
    assert (error.code, error.path) == ("CBEC-1008", "strategy")


def test_9810_needs_the_sellers_overseas_warehouse_filing_in_its_tenant_record(world: World) -> None:
    c = ExportClearance(6)
    refused = world.app_for("CEB603").declare(_command("CEB603", DECLARANT, bare_list(c), strategy="9810清单"))
    [error] = refused.errors
    assert (error.code, error.path) == ("CBEC-1007", "tenant.overseasWarehouseFiling")
    assert "InventoryHead.tradeMode 9810" in error.message
    [error] = world.declare("CEB303", SELLER, c.order("W")).errors  # 9810 by its own orderType, no strategy
    assert (error.code, error.path) == ("CBEC-1007", "tenant.overseasWarehouseFiling")

    filed = build_world(tenants=registry(overseasWarehouseFiling="HWC3105960001"))
    outcome = filed.app_for("CEB603").declare(_command("CEB603", DECLARANT, bare_list(c), strategy="9810清单"))
    assert outcome.result == "accepted", outcome.errors
    assert filed.state("CEB603", bare_list(c)).document["InventoryHead"]["tradeMode"] == "9810"  # type: ignore[index]
    assert filed.declare("CEB303", SELLER, c.order("W")).result == "accepted"


def test_an_unknown_strategy_is_refused_naming_where_it_was_named(world: World, tmp_path: Path) -> None:
    c = ExportClearance(7)
    [error] = world.app_for("CEB303").declare(_command("CEB303", SELLER, c.order(), strategy="9910清单")).errors
    assert (error.code, error.path) == ("CBEC-0002", "strategy")
    [error] = world.app_for("CEB311").declare(_command("CEB311", SELLER, c.order(), strategy="9610清单")).errors
    assert (error.code, error.path) == ("CBEC-0002", "strategy")  # an import document takes none
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps([{**DEMO_TENANTS[0], "strategy": "9910清单"}]), encoding="utf-8")
    with pytest.raises(NoTenants, match="9910清单"):
        load_tenants(Settings.from_environ({"CBEC_TENANTS_FILE": str(path)}))


def _command(code: str, sender: str, document: dict[str, Any], **envelope: str) -> DeclareDocument:
    return DeclareDocument(f"s-{code}-{id(document)}", sender, code, document, **envelope)
