"""The customs link and export: messages go to customs' export DXP id, receipts (CEB304 … CEB702) reach the
owner of the document they answer, and the CEB792 summary result reaches the summary's owner."""

from __future__ import annotations

import base64
import random
from pathlib import Path

from cbec.ceb import dxp
from cbec.contracts import topics
from cbec.contracts.customs import ReceiptReceived
from cbec.contracts.signing import SignResult
from cbec.customs.filedrop import FileDropLink
from cbec.declaration import ceb_bridge
from cbec.declaration.doctypes import EXPORT_BY_CODE
from cbec_testkit.customs.simulator import CustomsSimulator, Verdict
from cbec_testkit.memory import InMemoryDeclarationStore
from cbec_testkit.samples import export as samples
from cbec_testkit.tenants import demo_registry
from receipts_service.application import RECEIPT_RECEIVED, CustomsLinkApp, route

C = samples.ExportClearance(1, "9610")
BASE = {"copCode": "3105960001", "copName": "示例", "dxpMode": "DXP", "dxpId": "DXPENT0000000001"}


class ExportLink:
    def __init__(self, root: Path) -> None:
        self.link = FileDropLink(root / "outbox", root / "inbox", rng=random.Random(5))
        self.store = InMemoryDeclarationStore()
        self.app = CustomsLinkApp(self.store, self.link, demo_registry())
        self.customs = CustomsSimulator(root / "outbox", root / "inbox", verify=lambda xml: Verdict(True),
                                        rng=random.Random(3))
        self.n = 0

    def send(self, code: str, document: dict[str, object], sender: str, clearance: str) -> None:
        self.n += 1
        xml = ceb_bridge.render(EXPORT_BY_CODE[code], document, BASE)
        self.app.transmit(SignResult(f"{code}:s-{self.n}:1", sender, code, clearance, True,
                                     base64.b64encode(xml).decode()))

    def routed(self) -> list[tuple[str, ReceiptReceived]]:
        """Every receipt the link recorded, as it leaves for its owner: (topic, receipt)."""
        self.customs.poll()
        self.app.poll_inbox()
        out = []
        for stream_id, version, event_type, data in self.store.log:
            if event_type == RECEIPT_RECEIVED:
                for topic, _key, value in route(stream_id, version, event_type, data):
                    out.append((topic, ReceiptReceived.from_json(value)))
        return out


def test_export_messages_go_to_customs_export_id_and_each_receipt_to_its_owner(tmp_path: Path) -> None:
    link = ExportLink(tmp_path)
    link.send("CEB303", samples.order_document(C), samples.SELLER, C.clearance_key)
    link.send("CEB505", samples.waybill_document(C), samples.LOGISTICS_COMPANY, C.clearance_key)
    link.send("CEB603", samples.inventory_document(C), samples.DECLARANT, C.clearance_key)
    sent = sorted((tmp_path / "outbox").glob("*.xml"))
    assert [dxp.unwrap(p.read_bytes()).receiver_ids for p in sent] == [["DXPEDCCEB0000003"]] * 3
    routed = link.routed()
    owners = {(r.receipt_type, topic) for topic, r in routed}
    assert owners == {("CEB304", topics.feedback("order", topics.FEEDBACK_RECEIPTS)),
                      ("CEB506", topics.feedback("logistics", topics.FEEDBACK_RECEIPTS)),
                      ("CEB604", topics.feedback("inventory", topics.FEEDBACK_RECEIPTS))}
    lists = [r for _, r in routed if r.receipt_type == "CEB604"]
    assert {tuple(r.business_key) for r in lists} == {(samples.DECLARANT, C.cop_no)}
    assert all(r.node["invtNo"].startswith("51652026E") for r in lists)


def test_the_summary_result_reaches_the_summary_owner_with_its_lists(tmp_path: Path) -> None:
    link = ExportLink(tmp_path)
    for code, document, sender in (("CEB303", samples.order_document(C), samples.SELLER),
                                   ("CEB505", samples.waybill_document(C), samples.LOGISTICS_COMPANY),
                                   ("CEB603", samples.inventory_document(C), samples.DECLARANT)):
        link.send(code, document, sender, C.clearance_key)
    link.routed()
    invt_no = link.customs.records[("CEB603", (samples.DECLARANT, C.cop_no))].invt_no
    link.send("CEB701", samples.summary_document([invt_no], "SUM1"), samples.DECLARANT, "")
    routed = [(topic, r) for topic, r in link.routed() if r.receipt_type in ("CEB702", "CEB792")]
    [(topic, result)] = [(t, r) for t, r in routed if r.receipt_type == "CEB792"]
    assert topic == topics.feedback("inventory", topics.FEEDBACK_RECEIPTS)
    sum_no = {r.node["sumNo"] for _, r in routed if r.receipt_type == "CEB702"}
    assert (result.doc_type, result.business_key, result.node["invtNos"]) == ("CEB701", [], invt_no)
    assert {result.node["sumNo"]} == sum_no and result.node["entryId"] and result.node["decState"]
    assert result.return_time == result.node["opDate"]
