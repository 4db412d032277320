"""An export clearance's milestones come from the read model's index of the clearances a group document
names (``clearanceKeys``), through the listing API with the enterprise's key: one arrival naming three
clearances reaches each of them, an arrival older than sixty others is still found, and a carrier named on
no arrival of another carrier's clearance finds none there."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.contracts.commands import DeclareDocument
from cbec.declaration import ceb_bridge
from cbec.declaration.application import DeclarationApp
from cbec.declaration.http import make_http_app
from cbec.readmodel import Projection, ReadModel
from cbec.tenants import TenantRegistry
from cbec_testkit.memory import InMemoryDeclarationStore, MemorySource
from cbec_testkit.samples import export as samples
from cbec_testkit.samples.parties import LOGISTICS_COMPANY, SITE_OPERATOR
from cbec_testkit.tenants import DEMO_TENANTS
from console_service import milestones
from console_service.platform import HttpPlatform
from logistics_service.domain import POLICIES

OTHER_CARRIER = "3105960013"
TENANTS = TenantRegistry.from_json([*DEMO_TENANTS, {"customsCode": OTHER_CARRIER, "name": "另一物流有限公司",
                                                    "roles": ["logistics"], "dxpId": "DXPENT0000000013"}])
CARRIER_READS = ["CEB505", "CEB507", "CEB509", "CEB607"]  # what a logistics company may read


class Logistics:
    """The logistics service's intake, read model and listing API, and the console's view of them."""

    def __init__(self) -> None:
        self.store = InMemoryDeclarationStore()
        self.app = DeclarationApp(list(POLICIES), self.store, TENANTS, ceb_bridge.validate, ceb_bridge.render)
        self.readmodel = ReadModel.open("sqlite:///:memory:", "logistics")
        keys, records = {}, []
        for tenant in TENANTS.all():
            keys[tenant.customs_code], record = issue_key(tenant.customs_code, "console")
            records.append(record)
        api = make_http_app(self.app, "logistics", auth=ApiKeyRegistry(records), readmodel=self.readmodel,
                            projection=Projection(MemorySource(self.store), self.readmodel))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://logistics")
        self.platform = HttpPlatform("sandbox", {"logistics": client}, keys)
        self.n = 0

    def declare(self, sender: str, doc_type: str, document: dict[str, object], **envelope: str) -> None:
        self.n += 1
        outcome = self.app.declare(DeclareDocument(f"c{self.n}", sender, doc_type, document, **envelope))
        assert outcome.result == "accepted", outcome.errors

    def waybill(self, c: samples.ExportClearance, carrier: str = LOGISTICS_COMPANY) -> None:
        self.declare(carrier, "CEB505", {**samples.waybill_document(c), "logisticsCode": carrier},
                     order_no=c.order_no)

    def arrival(self, clearances: list[samples.ExportClearance], cop_no: str,
                carrier: str = LOGISTICS_COMPANY) -> None:
        document = samples.arrival_document(clearances, cop_no)
        document["ArrivalHead"]["logisticsCode"] = carrier
        self.declare(SITE_OPERATOR, "CEB507", document)

    def arrived(self, enterprise: str, clearance: samples.ExportClearance) -> milestones.Milestone:
        steps = asyncio.run(milestones.milestones(self.platform, enterprise, CARRIER_READS,
                                                  clearance.clearance_key))
        return next(s for s in steps if s.name == "arrived")


@pytest.fixture
def logistics() -> Iterator[Logistics]:
    made = Logistics()
    yield made
    made.readmodel.close()


def test_an_arrival_naming_three_clearances_is_each_ones_milestone(logistics: Logistics) -> None:
    three = [samples.ExportClearance(n) for n in (1, 2, 3)]
    for c in three:
        logistics.waybill(c)
    logistics.arrival(three, "ARR-3")
    for c in three:
        step = logistics.arrived(LOGISTICS_COMPANY, c)
        assert step.key == [SITE_OPERATOR, "ARR-3"] and step.status
        assert step.link == "/clearances/" + step.clearance_key
    assert logistics.arrived(SITE_OPERATOR, three[0]).key == [SITE_OPERATOR, "ARR-3"]  # its declarer too


def test_an_arrival_older_than_sixty_others_is_still_found(logistics: Logistics) -> None:
    old = samples.ExportClearance(1)
    logistics.waybill(old)
    logistics.arrival([old], "ARR-OLD")
    for n in range(2, 62):  # sixty newer arrivals, each of another clearance
        c = samples.ExportClearance(n)
        logistics.waybill(c)
        logistics.arrival([c], f"ARR-{n}")
    assert logistics.arrived(LOGISTICS_COMPANY, old).key == [SITE_OPERATOR, "ARR-OLD"]
    assert logistics.arrived(LOGISTICS_COMPANY, samples.ExportClearance(61)).key == [SITE_OPERATOR, "ARR-61"]
    assert logistics.arrived(LOGISTICS_COMPANY, samples.ExportClearance(99)).key == []  # never arrived


def test_another_carriers_clearance_shows_no_arrival_to_a_carrier_named_on_none(logistics: Logistics) -> None:
    mine, theirs = samples.ExportClearance(1), samples.ExportClearance(2)
    logistics.waybill(mine)
    logistics.waybill(theirs, OTHER_CARRIER)
    logistics.arrival([mine], "ARR-MINE")
    logistics.arrival([theirs], "ARR-THEIRS", OTHER_CARRIER)
    assert logistics.arrived(OTHER_CARRIER, theirs).key == [SITE_OPERATOR, "ARR-THEIRS"]
    assert logistics.arrived(LOGISTICS_COMPANY, theirs).key == []  # it exists, but not for this carrier
    assert logistics.arrived(OTHER_CARRIER, mine).key == []
    assert logistics.arrived(LOGISTICS_COMPANY, mine).key == [SITE_OPERATOR, "ARR-MINE"]


def test_a_changed_arrival_moves_between_clearances_and_a_replay_keeps_the_index(logistics: Logistics) -> None:
    first, second = samples.ExportClearance(1), samples.ExportClearance(2)
    logistics.waybill(first)
    logistics.waybill(second)
    logistics.arrival([first], "ARR-1")
    assert logistics.arrived(LOGISTICS_COMPANY, first).key
    changed = samples.arrival_document([second], "ARR-1")
    changed["ArrivalHead"].update(appType="2", appTime="20261201110000")
    logistics.declare(SITE_OPERATOR, "CEB507", changed)
    assert logistics.arrived(LOGISTICS_COMPANY, first).key == []  # the change lists the other waybill only
    assert logistics.arrived(LOGISTICS_COMPANY, second).key == [SITE_OPERATOR, "ARR-1"]
    Projection(MemorySource(logistics.store), logistics.readmodel, name="rebuild").catch_up()  # as 0005 does
    assert logistics.arrived(LOGISTICS_COMPANY, second).key == [SITE_OPERATOR, "ARR-1"]
    assert logistics.arrived(LOGISTICS_COMPANY, first).key == []
