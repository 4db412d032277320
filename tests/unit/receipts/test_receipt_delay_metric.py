"""The customs link measures how long after customs issued it (``returnTime``) each new receipt is recorded,
by receipt type; a redelivered receipt file is not measured twice."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

from cbec.customs.filedrop import FileDropLink
from cbec.declaration.receipt_clock import parse_return_time
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.tenants import demo_registry
from prometheus_client import REGISTRY
from receipts_service.application import CustomsLinkApp

DXP_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "dxp" / "DxpMsgSv-CEB312.xml"


def observed(bound: str) -> float:
    return REGISTRY.get_sample_value("cbec_receipt_delay_seconds_bucket", {"receipt_type": "CEB312", "le": bound}) or 0


def test_a_new_receipt_is_measured_from_its_return_time(tmp_path: Path) -> None:
    raw = DXP_SAMPLE.read_bytes()
    issued = parse_return_time("20261207100005123")  # the sample's returnTime (Beijing time)
    assert issued is not None
    now = (issued + timedelta(seconds=40)).astimezone(UTC)
    app = CustomsLinkApp(InMemoryDeclarationStore(), FileDropLink(tmp_path / "o", tmp_path / "i"), demo_registry(),
                         now=lambda: now)
    under_a_minute, under_half = observed("60.0"), observed("30.0")
    assert app.ingest_message(DXP_SAMPLE.name, raw) == 1
    assert app.ingest_message(DXP_SAMPLE.name, raw) == 0  # the same file again: recorded once, measured once
    assert (observed("60.0") - under_a_minute, observed("30.0") - under_half) == (1, 0)


def test_each_receipt_type_has_a_latency_series_of_its_own(tmp_path: Path) -> None:
    """A list receipt (CEB622, customs' published sample with several receipts) is measured under its own
    type: the order receipts' series does not move."""
    raw = (Path(__file__).resolve().parents[2] / "data" / "ceb-202205" / "samples" / "import"
           / "CEB622Message.xml").read_bytes()
    issued = parse_return_time("20160512102646001")
    assert issued is not None
    now = (issued + timedelta(minutes=20)).astimezone(UTC)
    app = CustomsLinkApp(InMemoryDeclarationStore(), FileDropLink(tmp_path / "o", tmp_path / "i"), demo_registry(),
                         now=lambda: now)

    def series(receipt_type: str, bound: str) -> float:
        return REGISTRY.get_sample_value("cbec_receipt_delay_seconds_bucket",
                                         {"receipt_type": receipt_type, "le": bound}) or 0

    orders, lists_fast, lists_slow = series("CEB312", "+Inf"), series("CEB622", "900.0"), series("CEB622", "1800.0")
    recorded = app.ingest_message("CEB622Message.xml", raw)
    assert recorded > 1
    assert series("CEB622", "1800.0") - lists_slow == recorded  # each receipt of the file, about 20 minutes late
    assert series("CEB622", "900.0") == lists_fast and series("CEB312", "+Inf") == orders
