"""A clearance's four owning services on in-memory stores, wired as the services wire them."""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import inventory_service.application
import logistics_service.application
import order_service.application
import payment_service.application
import pytest
from cbec.contracts.commands import DeclareDocument
from cbec.contracts.customs import ReceiptReceived
from cbec.contracts.events import EVENT_DATA
from cbec.declaration.application import DeclarationApp, Outcome
from cbec.declaration.doctypes import BY_CODE
from cbec.declaration.lifecycle import Declaration
from cbec.quota.settings import QuotaSettings
from cbec.settings import Settings
from cbec.tenants import TenantRegistry
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import (
    DECLARANT,
    LOGISTICS_COMPANY,
    PAYMENT_COMPANY,
    PLATFORM,
    inventory_document,
    order_document,
    payment_document,
    waybill_document,
)
from cbec_testkit.tenants import demo_registry

_ids = itertools.count(1)


@dataclass
class Clearance:
    order: dict[str, Any]
    payment: dict[str, Any]
    waybill: dict[str, Any]
    inventory: dict[str, Any]

    @property
    def ebp(self) -> str:
        return str(self.order["OrderHead"]["ebpCode"])

    @property
    def key(self) -> str:
        return f"{self.ebp}:{self.order['OrderHead']['orderNo']}"


@dataclass
class World:
    """One app per owning service, each on its own store, as in production."""

    stores: dict[str, InMemoryDeclarationStore] = field(default_factory=dict)
    apps: dict[str, DeclarationApp] = field(default_factory=dict)

    def app_for(self, doc_type: str) -> DeclarationApp:
        return self.apps[BY_CODE[doc_type].service]

    def store_for(self, doc_type: str) -> InMemoryDeclarationStore:
        return self.stores[BY_CODE[doc_type].service]

    def declare(self, doc_type: str, sender: str, document: dict[str, Any], *, ebp: str = "",
                command_id: str | None = None, order_no: str = "", ebc_code: str = "") -> Outcome:
        command = DeclareDocument(command_id or f"cmd-{next(_ids)}", sender, doc_type,
                                  copy.deepcopy(document), ebp, order_no, ebc_code)
        return self.app_for(doc_type).declare(command)

    def state(self, doc_type: str, document: dict[str, Any]) -> Declaration:
        dt = BY_CODE[doc_type]
        found = self.app_for(doc_type).find(doc_type, dt.business_key(document))
        assert found is not None
        return found

    def events(self, doc_type: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [d for _, _, t, d in self.store_for(doc_type).log
                if (kind is None or t == kind) and d.get("docType") == doc_type]

    def stored_declaration_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Every declaration event the services stored (their bookkeeping events left out)."""
        return [(t, d) for store in self.stores.values() for _, _, t, d in store.log if t in EVENT_DATA]

    def receipt(self, doc_type: str, document: dict[str, Any], status: int, time: str,
                node: dict[str, str] | None = None) -> bool:
        dt = BY_CODE[doc_type]
        key = list(dt.business_key(document))
        r = ReceiptReceived(f"r-{doc_type}-{status}-{time}-{next(_ids)}", dt.receipt_code, doc_type, key, status,
                            time, "info", node or {})
        return bool(self.app_for(doc_type).record_receipt(r))

    def clearance(self, n: int, *, trade_mode: str = "9610", amount: Decimal | None = None) -> Clearance:
        order = order_document(n, random.Random(n), lines=1)
        if amount is not None:
            set_order_amount(order, amount)
        return Clearance(order, payment_document(order), waybill_document(order),
                         inventory_document(order, trade_mode=trade_mode))

    def declare_all(self, c: Clearance) -> list[Outcome]:
        return [
            self.declare("CEB311", PLATFORM, c.order),
            self.declare("CEB411", PAYMENT_COMPANY, c.payment),
            self.declare("CEB511", LOGISTICS_COMPANY, c.waybill, ebp=c.ebp),
            self.declare("CEB621", DECLARANT, c.inventory),
        ]


def set_order_amount(order: dict[str, Any], amount: Decimal) -> None:
    """Make the order's single line (qty 1) worth ``amount``, freight and tax 0."""
    head, line = order["OrderHead"], order["OrderList"][0]
    text = f"{amount.quantize(Decimal('0.01'))}"
    line.update(qty="1", price=text, totalPrice=text)
    head.update(goodsValue=text, freight="0.00", taxTotal="0.00", discount="0", acturalPaid=text)


def build_world(quota: QuotaSettings | None = None, settings: Settings | None = None,
                tenants: TenantRegistry | None = None) -> World:
    """The four declaration services on in-memory stores, configured as their bootstraps configure them."""
    settings = settings or Settings.from_environ({})
    world = World()
    builders = {
        "order": order_service.application.build,
        "payment": payment_service.application.build,
        "logistics": logistics_service.application.build,
    }
    tenants = tenants or demo_registry()
    configured = {"redeclare_app_type": settings.declaration.redeclare_app_type, "gate": settings.saga.gate}
    for name, build in builders.items():
        world.stores[name] = InMemoryDeclarationStore()
        world.apps[name] = build(world.stores[name], tenants, **configured)
    world.stores["inventory"] = InMemoryDeclarationStore()
    world.apps["inventory"] = inventory_service.application.build(
        world.stores["inventory"], tenants, quota or QuotaSettings(pii_hmac_key="test-key"), **configured)
    return world


def not_read_back(world: World) -> list[tuple[str, dict[str, Any]]]:
    """The stored declaration events that do not read back as stored through their payload class, or
    hold a field the class does not name (it would only be carried along in ``extra``)."""
    return [(t, d) for t, d in world.stored_declaration_events()
            if (typed := EVENT_DATA[t].from_dict(d)).to_dict() != d or typed.extra]


@pytest.fixture
def world() -> Iterator[World]:
    """The four services; afterwards, every event they stored reads back through its payload class."""
    built = build_world()
    yield built
    assert not_read_back(built) == []
