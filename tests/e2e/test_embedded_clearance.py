"""The embedded stack clears documents declared in any order: customs sees each once, prerequisites first."""

from __future__ import annotations

from pathlib import Path

import pytest
from cbec.settings import Settings
from cbec_testkit.embedded import EmbeddedStack, embedded_settings
from cbec_testkit.samples import declare_clearance

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("gate", [120, 2])
def test_documents_declared_backwards_reach_customs_once_in_prerequisite_order(tmp_path: Path, gate: int) -> None:
    settings = embedded_settings(Settings.from_environ({"CBEC_SAGA_GATE": str(gate)}))
    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp", settings=settings)
    clearances = [declare_clearance(n, trade_mode="9610" if n % 2 else "1210") for n in (1, 2, 3)]
    try:
        for commands in clearances:
            for command in reversed(commands):  # list, waybill, payment, order
                stack.submit(command)
        for _ in range(200):
            stack.step()
            if all(stack.saga.view(f"3105960001:DEMO{n:08d}")["documents"].get("inventory", {}).get("statusCode")
                   == 800 for n in (1, 2, 3)):
                break
        for n in (1, 2, 3):
            arrived = stack.simulator.clearance_arrivals[f"3105960001:DEMO{n:08d}"]
            assert sorted(arrived[:2]) == ["CEB311", "CEB411"] and arrived[2:] == ["CEB511", "CEB621"], arrived
            view = stack.saga.view(f"3105960001:DEMO{n:08d}")
            assert view["locked"] and view["documents"]["inventory"]["statusCode"] == 800
    finally:
        stack.close()


def test_the_platform_hears_every_status_of_its_order_at_its_callback_url(tmp_path: Path) -> None:
    from cbec.contracts.status import StatusMessage
    from cbec.tenants import TenantRegistry
    from cbec_testkit.tenants import DEMO_TENANTS
    from saga_service.webhooks import SIGNATURE_HEADER, verify

    calls: list[tuple[bytes, dict[str, str]]] = []

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        assert url == "https://platform.example/hooks"
        calls.append((body, headers))
        return 200

    tenants = TenantRegistry.from_json([{**t, "callbackUrl": "https://platform.example/hooks"}
                                        if t["customsCode"] == "3105960001" else t for t in DEMO_TENANTS])
    settings = embedded_settings(Settings.from_environ({"CBEC_WEBHOOK_SECRET_3105960001": "platform-secret"}))
    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp", tenants=tenants, webhook_post=post,
                          settings=settings)
    try:
        for command in declare_clearance(1):
            stack.submit(command)
        for _ in range(100):
            if not stack.step() and calls:
                break
    finally:
        stack.close()
    messages = [StatusMessage.from_json(body) for body, _ in calls]
    assert all(verify(b"platform-secret", body, headers[SIGNATURE_HEADER]) for body, headers in calls)
    assert {m.tenant for m in messages} == {"3105960001"} and {m.doc_type for m in messages} == {"CEB311"}
    assert messages[-1].status == "customs accepted (120)"


def test_a_released_lists_tax_bill_and_its_settlement_reach_the_list_and_the_clearance_view(tmp_path: Path) -> None:
    from cbec_testkit.customs.simulator import SimulatorConfig

    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp", settings=embedded_settings(),
                          simulator_config=SimulatorConfig(tax_delay=0.0))
    commands = declare_clearance(7)
    [listed] = [c for c in commands if c.doc_type == "CEB621"]
    key = ("3105960004", listed.document["InventoryHead"]["copNo"])

    def bills() -> list[dict[str, str]]:
        state = stack.declaration("CEB621", key)
        return [b.to_json() for b in state.tax_bills.values()] if state is not None else []

    try:
        for command in commands:
            stack.submit(command)
        for _ in range(200):
            stack.step()
            if bills():
                break
        [bill] = bills()
        state = stack.declaration("CEB621", key)
        assert state is not None and bill["invtNo"] == state.numbers["invtNo"] and bill["status"] == "1"
        assert stack.simulator.settle_taxes() == 1
        for _ in range(50):
            if not stack.step() and bills()[0]["status"] == "2":
                break
        [bill] = bills()
        assert bill["status"] == "2" and bill["entDutyNo"]
        view = stack.saga.view("3105960001:DEMO00000007")["documents"]["inventory"]
        assert view["taxBills"] == {bill["taxNo"]: {"status": "2", "statusTime": bill["statusTime"]}}
    finally:
        stack.close()
