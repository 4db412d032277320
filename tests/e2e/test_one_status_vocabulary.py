"""One document reads the same everywhere: its own service's HTTP API and the saga's ``cbec.out.status``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cbec.auth.keys import ApiKeyRegistry, issue_key
from cbec.contracts.status import STATUS_TOPIC, StatusMessage
from cbec.declaration.doctypes import INVENTORY
from cbec.declaration.http import make_http_app
from cbec_testkit.embedded import EmbeddedStack
from cbec_testkit.samples import DECLARANT, declare_clearance
from fastapi.testclient import TestClient

pytestmark = pytest.mark.e2e


def _settle(stack: EmbeddedStack) -> None:
    for _ in range(100):
        if not stack.step():
            return


def _last_status_of_the_list(stack: EmbeddedStack) -> StatusMessage:
    told = [StatusMessage.from_json(m.value) for m in stack.bus.messages(STATUS_TOPIC)]
    return [m for m in told if m.doc_type == INVENTORY.code][-1]


def test_a_held_list_reads_the_same_on_the_inventory_api_and_on_the_status_topic(tmp_path: Path) -> None:
    stack = EmbeddedStack(workdir=tmp_path / "state", dxp_dir=tmp_path / "dxp")
    key, record = issue_key(DECLARANT)
    api = TestClient(make_http_app(stack.apps["inventory"], "inventory", auth=ApiKeyRegistry([record])))
    order, payment, _waybill, inventory = declare_clearance(1)
    path = "/v1/documents/CEB621/" + "/".join(INVENTORY.business_key(inventory.document))
    try:
        stack.submit(inventory)  # the list first: it waits for everything
        _settle(stack)
        first = _last_status_of_the_list(stack)
        seen = api.get(path, headers={"X-Api-Key": key}).json()
        assert (seen["status"], seen["phase"]) == (first.status, first.phase) == ("held", "held")
        assert first.reason == "waiting for order and payment and waybill"

        stack.submit(order)
        stack.submit(payment)
        _settle(stack)  # customs accepts the order and the payment; the list still needs its waybill
        later = _last_status_of_the_list(stack)
        seen = api.get(path, headers={"X-Api-Key": key}).json()
        assert seen["status"] == later.status == "held"
        assert later.reason == "waiting for waybill"  # the saga alone says what a held document waits for
        assert stack.saga.view(later.clearance_key)["documents"]["inventory"]["waitingFor"] == ["waybill"]
    finally:
        stack.close()
