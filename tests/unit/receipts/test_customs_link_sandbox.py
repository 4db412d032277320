"""A sandbox tenant never reaches a production customs link: its signed documents are dead-lettered at
the link (a contract error naming the tenant), while a development link sends them to the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from cbec.contracts.base import ContractError
from cbec.customs.filedrop import FileDropLink, waiting_files
from cbec.declaration.ports import Position
from cbec.sandbox import link_tenants
from cbec.tenants import TenantRegistry
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.tenants import DEMO_TENANTS
from receipts_service.application import CustomsLinkApp
from test_customs_link import _signed_result

PLATFORM = "3105960001"  # the tenant _signed_result signs for


def _registry(*, sandbox: bool) -> TenantRegistry:
    return TenantRegistry.from_json([{**t, "sandbox": sandbox} if t["customsCode"] == PLATFORM else t
                                     for t in DEMO_TENANTS])


def _link(root: Path, tenants: TenantRegistry, *, production: bool) -> CustomsLinkApp:
    return CustomsLinkApp(InMemoryDeclarationStore(), FileDropLink(root / "outbox", root / "inbox"),
                          link_tenants(tenants, production_link=production))


def test_a_sandbox_tenants_document_is_refused_by_a_production_link_and_nothing_is_written(tmp_path: Path) -> None:
    link = _link(tmp_path, _registry(sandbox=True), production=True)
    with pytest.raises(ContractError, match=f"tenant: {PLATFORM} may not send on this customs link"):
        link.on_signed(_signed_result(1).to_json(), Position("cbec.sign.results:0", 7))
    assert waiting_files(tmp_path / "outbox") == []


def test_the_same_tenant_once_promoted_is_sent(tmp_path: Path) -> None:
    link = _link(tmp_path, _registry(sandbox=False), production=True)
    link.on_signed(_signed_result(1).to_json(), Position("cbec.sign.results:0", 7))
    assert len(waiting_files(tmp_path / "outbox")) == 1


def test_a_development_link_sends_a_sandbox_tenants_document_to_the_simulator(tmp_path: Path) -> None:
    link = _link(tmp_path, _registry(sandbox=True), production=False)
    link.on_signed(_signed_result(1).to_json(), Position("cbec.sign.results:0", 7))
    assert len(waiting_files(tmp_path / "outbox")) == 1
