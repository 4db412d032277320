"""Stories of who may declare what: roles, own or delegated codes, and distinct parties."""

from __future__ import annotations

import copy

import inventory_service.application
import payment_service.application
from cbec.quota.settings import QuotaSettings
from cbec.tenants import TenantRegistry
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import (
    DECLARANT,
    LOGISTICS_COMPANY,
    PAYMENT_COMPANY,
    PLATFORM,
    SITE_OPERATOR,
    entry_document,
)
from cbec_testkit.tenants import DEMO_TENANTS
from conftest import World


def test_a_payment_from_a_platform_is_refused_naming_the_sender(world: World) -> None:
    outcome = world.declare("CEB411", PLATFORM, world.clearance(1).payment)
    assert outcome.result == "refused"
    assert (outcome.errors[0].code, outcome.errors[0].path) == ("-10101", "sender")


def test_each_document_type_is_refused_from_the_wrong_role(world: World) -> None:
    c = world.clearance(2)
    assert world.declare("CEB511", PAYMENT_COMPANY, c.waybill, ebp=c.ebp).errors[0].code == "-10101"
    assert world.declare("CEB621", LOGISTICS_COMPANY, c.inventory).errors[0].code == "-10101"
    assert world.declare("CEB711", DECLARANT, entry_document([c.waybill], "E1")).errors[0].code == "-10101"
    assert world.declare("CEB311", DECLARANT, c.order).errors[0].code == "-10101"


def test_a_payment_naming_another_payment_company_is_refused_naming_paycode(world: World) -> None:
    payment = world.clearance(3).payment
    payment["PaymentHead"]["payCode"] = "3109999999"
    outcome = world.declare("CEB411", PAYMENT_COMPANY, payment)
    assert outcome.result == "refused"
    assert (outcome.errors[0].code, outcome.errors[0].path) == ("CBEC-1003", "PaymentHead.payCode")


def test_codes_in_each_document_must_be_the_senders_own(world: World) -> None:
    c = world.clearance(4)
    c.order["OrderHead"].update(ebpCode="3109999998", ebcCode="3109999999")
    assert world.declare("CEB311", PLATFORM, c.order).errors[0].path == "OrderHead.ebcCode"
    c.waybill["LogisticsHead"]["logisticsCode"] = "3109999999"
    assert world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp).errors[0].path == (
        "LogisticsHead.logisticsCode"
    )
    c.inventory["InventoryHead"]["agentCode"] = "3109999999"
    assert world.declare("CEB621", DECLARANT, c.inventory).errors[0].path == "InventoryHead.agentCode"
    entry = entry_document([c.waybill], "E1")
    entry["DeliveryHead"]["operatorCode"] = "3109999999"
    assert world.declare("CEB711", SITE_OPERATOR, entry).errors[0].path == "DeliveryHead.operatorCode"


def test_an_order_may_name_the_sender_as_platform_or_as_ecommerce_enterprise(world: World) -> None:
    order = world.clearance(5).order
    order["OrderHead"]["ebcCode"] = "3109999999"  # another e-commerce enterprise on our platform
    assert world.declare("CEB311", PLATFORM, order).result == "accepted"


def test_a_code_delegated_to_the_sender_is_accepted() -> None:
    tenants = copy.deepcopy(DEMO_TENANTS)
    tenants[1]["delegatedCodes"] = ["3109999999"]
    app = payment_service.application.build(InMemoryDeclarationStore(), TenantRegistry.from_json(tenants))
    world = World(apps={"payment": app})
    payment = world.clearance(6).payment
    payment["PaymentHead"]["payCode"] = "3109999999"
    assert world.declare("CEB411", PAYMENT_COMPANY, payment).result == "accepted"


def test_an_order_paid_through_its_own_platform_is_refused_as_the_same_party(world: World) -> None:
    order = world.clearance(7).order
    order["OrderHead"]["payCode"] = order["OrderHead"]["ebpCode"]
    outcome = world.declare("CEB311", PLATFORM, order)
    assert (outcome.errors[0].code, outcome.errors[0].path) == ("CBEC-1004", "OrderHead.payCode")


def test_a_payment_whose_payer_company_is_the_platform_is_refused() -> None:
    tenants = copy.deepcopy(DEMO_TENANTS)
    tenants[1]["delegatedCodes"] = [PLATFORM]  # even when the platform delegated its code
    app = payment_service.application.build(InMemoryDeclarationStore(), TenantRegistry.from_json(tenants))
    world = World(apps={"payment": app})
    payment = world.clearance(8).payment
    payment["PaymentHead"]["payCode"] = PLATFORM
    outcome = world.declare("CEB411", PAYMENT_COMPANY, payment)
    assert [(e.code, e.path) for e in outcome.errors] == [("CBEC-1004", "PaymentHead.payCode")]


def test_a_waybill_carried_by_the_platform_itself_is_refused(world: World) -> None:
    c = world.clearance(9)
    outcome = world.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=LOGISTICS_COMPANY)
    assert (outcome.errors[0].code, outcome.errors[0].path) == ("CBEC-1004", "LogisticsHead.logisticsCode")


def test_a_bonded_1210_list_must_come_from_a_fourth_enterprise() -> None:
    tenants = TenantRegistry.from_json(DEMO_TENANTS)
    app = inventory_service.application.build(InMemoryDeclarationStore(), tenants,
                                               QuotaSettings(pii_hmac_key="k"))  # type: ignore[arg-type]
    world = World(apps={"inventory": app})
    bonded = world.clearance(10, trade_mode="1210").inventory
    bonded["InventoryHead"].update(agentCode=PLATFORM, agentName="示例跨境电商平台有限公司")
    outcome = world.declare("CEB621", PLATFORM, bonded)
    assert (outcome.errors[0].code, outcome.errors[0].path) == ("CBEC-1004", "InventoryHead.agentCode")
    direct = world.clearance(11).inventory  # 9610: the e-commerce enterprise may declare its own list
    direct["InventoryHead"].update(agentCode=PLATFORM, agentName="示例跨境电商平台有限公司")
    assert world.declare("CEB621", PLATFORM, direct).result == "accepted"
    from_warehouse = world.clearance(12, trade_mode="1210").inventory
    assert world.declare("CEB621", DECLARANT, from_warehouse).result == "accepted"
