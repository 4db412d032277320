"""The customs link takes receipts in every envelope customs uses: bare, DxpMsg, and DxpMsgSv between
transport nodes; a receipt without the CEB namespace is kept (leniently), never refused as a foreign root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cbec_testkit.samples.messages as ex
from cbec.ceb.codec import build
from cbec.customs.filedrop import FileDropLink
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.tenants import demo_registry
from receipts_service.application import RECEIPT_FILE_REJECTED, RECEIPT_RECEIVED, CustomsLinkApp

DXP_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "dxp" / "DxpMsgSv-CEB312.xml"


def _events(store: InMemoryDeclarationStore, event_type: str) -> list[dict[str, Any]]:
    return [data for _, _, t, data in store.log if t == event_type]


def _app(tmp_path: Path) -> tuple[CustomsLinkApp, InMemoryDeclarationStore]:
    store = InMemoryDeclarationStore()
    return CustomsLinkApp(store, FileDropLink(tmp_path / "o", tmp_path / "i"), demo_registry()), store


def test_a_receipt_in_a_dxp_msg_sv_is_ingested_like_a_bare_one(tmp_path: Path) -> None:
    app, store = _app(tmp_path)
    assert app.ingest_message(DXP_SAMPLE.name, DXP_SAMPLE.read_bytes()) == 1
    assert _events(store, RECEIPT_FILE_REJECTED) == []
    [receipt] = _events(store, RECEIPT_RECEIVED)
    assert (receipt["receipt_type"], receipt["business_key"][-1], receipt["return_status"]) == (
        "CEB312", "SV-ORDER-0001", 2)


def test_a_namespace_less_receipt_is_ingested(tmp_path: Path) -> None:
    app, store = _app(tmp_path)
    bare = build(ex.order_receipt()).replace(b"ceb:", b"").replace(
        b' xmlns:ceb="http://www.chinaport.gov.cn/ceb"', b"")
    assert app.ingest_message("bare.xml", bare) == 1
    [receipt] = _events(store, RECEIPT_RECEIVED)
    assert receipt["receipt_type"] == "CEB312" and receipt["business_key"][-1] == ex.ORDER_NO
