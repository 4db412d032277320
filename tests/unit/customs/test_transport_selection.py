"""The link settings choose the customs transport: one for all, or several routed per tenant or region."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cbec.ceb import dxp
from cbec.customs.amqp_link import AmqpLink
from cbec.customs.filedrop import FileDropLink, Staged, waiting_files, write_atomically
from cbec.customs.routing import TransportRouter
from cbec.settings import Settings
from cbec_testkit.tenants import demo_registry
from pydantic import ValidationError
from receipts_service import bootstrap as receipts

WHEN = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
AMQP = {"CBEC_CUSTOMS_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}  # never connected: links connect lazily


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_environ({"CBEC_DXP_OUTBOX": str(tmp_path / "out"), "CBEC_DXP_INBOX": str(tmp_path / "in"),
                                  **env})


def test_amqp_is_chosen_by_name_and_binds_the_dxpids_of_every_tenant(tmp_path: Path) -> None:
    settings = _settings(tmp_path, CBEC_CUSTOMS_TRANSPORT="amqp", CBEC_CUSTOMS_AMQP_RECEIVE_QUEUE="n1.in", **AMQP)

    link = receipts.transport(settings, demo_registry())

    assert isinstance(link, AmqpLink)
    assert link.receive_queue == "n1.in" and link.quarantine_queue == "n1.in.quarantine"
    assert link.dxp_ids == tuple(f"DXPENT000000000{n}" for n in range(1, 6))


def test_a_transport_without_its_address_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="CBEC_CUSTOMS_AMQP_URL"):
        Settings.from_environ({"CBEC_CUSTOMS_TRANSPORT": "amqp"})
    with pytest.raises(ValidationError, match="CBEC_CUSTOMS_GATEWAY_URL"):
        Settings.from_environ({"CBEC_CUSTOMS_TRANSPORTS": "3105=http"})
    with pytest.raises(ValidationError, match="CBEC_CUSTOMS_TRANSPORTS"):
        Settings.from_environ({"CBEC_CUSTOMS_TRANSPORTS": "3105:amqp"})


def test_a_region_and_a_tenant_can_each_have_their_own_transport(tmp_path: Path) -> None:
    settings = _settings(tmp_path, CBEC_CUSTOMS_TRANSPORTS="3105=amqp, 3105960002=filedrop", **AMQP)

    router = receipts.transport(settings, demo_registry())

    assert isinstance(router, TransportRouter)
    assert isinstance(router.for_code("3105960001"), AmqpLink)  # the region's route
    assert isinstance(router.for_code("3105960002"), FileDropLink)  # the tenant's own, longer prefix
    assert isinstance(router.for_code("4403960001"), FileDropLink)  # the default
    amqp = router.for_code("3105960001")
    assert isinstance(amqp, AmqpLink) and "DXPENT0000000002" not in amqp.dxp_ids


def _staged(router: TransportRouter, code: str) -> Staged:
    name = router.free_name("CEB311", code, WHEN)
    data = dxp.wrap(b"<o/>", msg_type="CEB311Message", sender_id="DXPENT0000000001", receiver_ids=["X"],
                    created=WHEN, file_name=name)
    return Staged(f"ticket-{code}", name, data)


def test_the_router_stages_hands_over_and_acknowledges_on_each_messages_own_transport(tmp_path: Path) -> None:
    east, west = FileDropLink(tmp_path / "east-out", tmp_path / "east-in"), FileDropLink(tmp_path / "w-out",
                                                                                          tmp_path / "w-in")
    router = TransportRouter(west, {"3105": east})
    for_east, for_west = _staged(router, "3105960001"), _staged(router, "4403960001")

    router.stage([for_east, for_west])
    assert sorted(s.name for s, _ in router.staged()) == sorted([for_east.name, for_west.name])
    assert router.hand_over([Staged(for_east.ticket, for_east.name), Staged(for_west.ticket, for_west.name)]) == 2

    assert waiting_files(east.outbox) == [for_east.name] and waiting_files(west.outbox) == [for_west.name]
    write_atomically(east.inbox, "CEB312Message_4403960001_x.xml", b"<r/>")  # a name that would route west
    [receipt] = router.fetch()
    router.acknowledge(receipt.name)
    assert waiting_files(east.inbox) == [] and len(east.archived()) == 1
