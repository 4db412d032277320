"""The customs simulator answers export like customs: receipt sequences, the invtNo in the CEB604, the
order of the chain (运抵 after release, 离境 after 运抵, cancel before departure, return after), duplicate
keys, and a summary's CEB702 followed by its CEB792 汇总结果单."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from cbec.ceb import codec, dxp
from cbec.ceb.xsd import xsd_errors
from cbec.declaration import ceb_bridge
from cbec.declaration.doctypes import EXPORT_BY_CODE
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.keys import SigningKey
from cbec.signing.sm2 import SoftwareSM2Key
from cbec.signing.xmldsig import sign_document
from cbec_testkit.customs.simulator import CustomsSimulator
from cbec_testkit.samples import export as samples
from cbec_testkit.samples.export import ExportClearance

FIRST, SECOND = ExportClearance(1, "9610"), ExportClearance(2, "9710")


@pytest.fixture(scope="module")
def key() -> SigningKey:
    key_pem, cert_pem = generate_sm2_identity("3105960001", "测试企业")
    return SoftwareSM2Key.from_pem(key_pem, cert_pem)


class ExportCustoms:
    def __init__(self, root: Path, key: SigningKey) -> None:
        self.outbox, self.inbox = root / "outbox", root / "inbox"
        self.outbox.mkdir(parents=True)
        self.inbox.mkdir(parents=True)
        self.key = key
        self.t = 0.0
        self.sim = CustomsSimulator(self.outbox, self.inbox, clock=lambda: self.t, rng=random.Random(1))
        self.files = 0
        self.read: set[str] = set()

    def send(self, doc_type: str, document: dict[str, Any]) -> None:
        xml = ceb_bridge.render(EXPORT_BY_CODE[doc_type], document, {
            "copCode": "3105960001", "copName": "测试企业", "dxpMode": "DXP", "dxpId": "DXPENT0000000001"})
        xml = sign_document(xml, self.key)
        self.files += 1
        name = f"{doc_type}Message_3105960001_20261201100000_{self.files:05d}.xml"
        (self.outbox / name).write_bytes(dxp.wrap(xml, msg_type=f"{doc_type}Message", sender_id="DXPENT0000000001",
                                                  receiver_ids=["DXPEDCCEB0000003"], cop_msg_id=f"COP{self.files}"))

    def answers(self) -> list[tuple[str, dict[str, Any]]]:
        """What customs wrote since the last look: (message type, node), in the order written."""
        self.sim.poll()
        out = []
        for path in sorted(self.inbox.glob("*.xml")):
            if path.name in self.read:
                continue
            self.read.add(path.name)
            envelope = dxp.unwrap(path.read_bytes())
            assert envelope.sender_id == "DXPEDCCEB0000003"
            assert xsd_errors(envelope.data, "export") == [], path.name
            msg = codec.parse(envelope.data)
            out.append((msg.type, msg.docs[0]))
        return sorted(out, key=lambda r: _time(r[1]))

    def statuses(self) -> list[tuple[str, int]]:
        return [(t, int(node["returnStatus"])) for t, node in self.answers() if "returnStatus" in node]

    def refusal(self) -> str:
        answers = self.answers()
        assert [(t, int(n["returnStatus"])) for t, n in answers] == [(answers[0][0], 100)], answers
        return str(answers[0][1]["returnInfo"])

    def released_list(self, c: ExportClearance) -> str:
        self.send("CEB303", samples.order_document(c))
        self.send("CEB505", samples.waybill_document(c))
        self.send("CEB603", samples.inventory_document(c))
        lists = [node for t, node in self.answers() if t == "CEB604"]
        assert [int(n["returnStatus"]) for n in lists] == [2, 120, 399, 800]
        return str(lists[0]["invtNo"])

    def arrived(self, c: ExportClearance, cop_no: str = "ARR1") -> None:
        self.send("CEB507", samples.arrival_document([c], cop_no))
        assert self.statuses() == [("CEB508", 2), ("CEB508", 399)]

    def departed(self, c: ExportClearance, cop_no: str = "DEP1") -> None:
        self.arrived(c, cop_no.replace("DEP", "ARR"))
        self.send("CEB509", samples.departure_document([c], cop_no))
        assert self.statuses() == [("CEB510", 2), ("CEB510", 399)]


def _time(node: dict[str, Any]) -> str:
    head = node.get("SummaryResultHead")
    return str(head["opDate"]) if isinstance(head, dict) else str(node["returnTime"])


@pytest.fixture
def customs(tmp_path: Path, key: SigningKey) -> ExportCustoms:
    return ExportCustoms(tmp_path, key)


def test_a_9610_clearance_gets_its_receipts_and_the_list_its_number(customs: ExportCustoms) -> None:
    customs.send("CEB303", samples.order_document(FIRST))
    customs.send("CEB403", samples.collection_document(FIRST))
    customs.send("CEB505", samples.waybill_document(FIRST))
    customs.send("CEB603", samples.inventory_document(FIRST))
    answers = customs.answers()
    assert [(t, int(n["returnStatus"])) for t, n in answers] == [
        ("CEB304", 2), ("CEB304", 120), ("CEB404", 2), ("CEB404", 120), ("CEB506", 2), ("CEB506", 399),
        ("CEB604", 2), ("CEB604", 120), ("CEB604", 399), ("CEB604", 800)]
    numbers = {n["invtNo"] for t, n in answers if t == "CEB604"}
    assert len(numbers) == 1 and numbers.pop().startswith("51652026E")
    assert customs.sim.clearance_arrivals[FIRST.clearance_key] == ["CEB303", "CEB403", "CEB603"]


def test_a_list_before_its_order_and_waybill_is_rejected(customs: ExportCustoms) -> None:
    customs.send("CEB603", samples.inventory_document(FIRST))
    assert customs.refusal() == "海关退单: 未找到已入库的订单、运单"


def test_an_arrival_before_its_list_is_released_is_rejected(customs: ExportCustoms) -> None:
    customs.send("CEB303", samples.order_document(FIRST))
    customs.send("CEB505", samples.waybill_document(FIRST))
    customs.answers()
    customs.sim.config.accept_delay = 10.0  # the list is still at 2
    customs.send("CEB603", samples.inventory_document(FIRST))
    customs.answers()
    customs.send("CEB507", samples.arrival_document([FIRST], "ARR1"))
    assert "的清单未放行(状态 2)" in customs.refusal()


def test_an_arrival_for_a_waybill_without_a_list_passes_in_customs_declaration_mode(customs: ExportCustoms) -> None:
    b2b = ExportClearance(5, "9710")
    customs.send("CEB303", samples.order_document(b2b))
    customs.send("CEB505", samples.waybill_document(b2b))
    customs.answers()
    customs.departed(b2b)


def test_a_departure_before_arrival_is_rejected(customs: ExportCustoms) -> None:
    customs.released_list(FIRST)
    customs.send("CEB509", samples.departure_document([FIRST], "DEP1"))
    assert customs.refusal() == f"海关退单: 运单 {FIRST.logistics_no} 未运抵, 不能离境"


def test_a_cancel_after_departure_is_rejected_and_before_it_accepted(customs: ExportCustoms) -> None:
    first = customs.released_list(FIRST)
    second = customs.released_list(SECOND)
    customs.departed(FIRST)
    customs.send("CEB605", samples.cancel_document(FIRST, first))
    assert customs.refusal() == "清单的状态不符合撤单申报要求: 货物已离境"
    customs.send("CEB605", samples.cancel_document(SECOND, second))
    assert customs.statuses() == [("CEB606", 2), ("CEB606", 399)]


def test_a_return_before_departure_is_rejected_and_after_it_accepted_then_tallied(customs: ExportCustoms) -> None:
    invt_no = customs.released_list(FIRST)
    customs.send("CEB215", samples.tally_document(FIRST, invt_no))
    assert customs.refusal().startswith("海关退单: 未找到已入库的退货申请单")
    customs.send("CEB213", samples.return_document(FIRST, invt_no))
    assert customs.refusal() == "退货申请单申报失败: 货物未离境"
    customs.departed(FIRST)
    customs.send("CEB213", samples.return_document(FIRST, invt_no))
    assert customs.statuses() == [("CEB214", 2), ("CEB214", 120), ("CEB214", 800)]
    customs.send("CEB215", samples.tally_document(FIRST, invt_no))
    assert customs.statuses() == [("CEB216", 2), ("CEB216", 399)]


def test_the_master_bill_binds_released_lists_only(customs: ExportCustoms) -> None:
    invt_no = customs.released_list(FIRST)
    customs.send("CEB607", samples.master_bill_document([(FIRST, invt_no), (SECOND, "51652026E999999999")], "WB1"))
    assert f"运单 {SECOND.logistics_no} 的清单未放行" in customs.refusal()
    customs.send("CEB607", samples.master_bill_document([(FIRST, invt_no)], "WB2"))
    assert customs.statuses() == [("CEB608", 2), ("CEB608", 120)]


def test_a_second_order_with_the_same_key_gets_the_duplicate_code(customs: ExportCustoms) -> None:
    customs.send("CEB303", samples.order_document(FIRST))
    customs.answers()
    again = samples.order_document(FIRST)
    again["OrderHead"]["guid"] = "0" * 8 + "-0000-4000-8000-" + "0" * 12
    customs.send("CEB303", again)
    assert customs.statuses() == [("CEB304", -301010)]


def test_a_summary_gets_its_sum_no_then_the_summary_result(customs: ExportCustoms) -> None:
    first, second = customs.released_list(FIRST), customs.released_list(SECOND)
    customs.send("CEB701", samples.summary_document([first, second], "SUM1"))
    answers = customs.answers()
    assert [t for t, _ in answers] == ["CEB702", "CEB702", "CEB792"]
    sum_no = answers[0][1]["sumNo"]
    result = answers[-1][1]
    head, lines = result["SummaryResultHead"], result["SummaryResultList"]
    assert head["sumNo"] == sum_no and head["entryId"] and head["decState"]
    assert [line["invtNo"] for line in lines] == [first, second]


def test_the_summary_result_says_the_declaration_stands_as_the_official_sample_does(customs: ExportCustoms) -> None:
    first = customs.released_list(FIRST)
    customs.send("CEB701", samples.summary_document([first], "SUM1"))
    assert customs.answers()[-1][1]["SummaryResultHead"]["decState"] == "A"
    customs.sim.export.summary_dec_state = "E"  # a story makes customs fail the next summary
    customs.send("CEB701", samples.summary_document([first], "SUM2"))
    assert customs.answers()[-1][1]["SummaryResultHead"]["decState"] == "E"


def test_a_list_whose_trade_mode_does_not_pair_with_its_order_type_is_rejected(customs: ExportCustoms) -> None:
    customs.send("CEB303", samples.order_document(FIRST))  # orderType E
    customs.send("CEB505", samples.waybill_document(FIRST))
    customs.answers()
    wrong = samples.inventory_document(FIRST)
    wrong["InventoryHead"]["tradeMode"] = "9710"
    customs.send("CEB603", wrong)
    assert customs.refusal() == "海关退单: 清单贸易方式 9710 与订单类型 E 不符"


def test_a_summary_naming_a_list_not_released_is_rejected(customs: ExportCustoms) -> None:
    first = customs.released_list(FIRST)
    customs.send("CEB701", samples.summary_document([first, "51652026E000000099"], "SUM1"))
    assert customs.refusal() == "海关退单: 清单 51652026E000000099 未放行, 不能汇总"
