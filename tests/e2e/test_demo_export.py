"""`cbec demo --flow export` as a user runs it: 9610, 9710 and 9810 export clearances through the whole chain
(and one 9710 in customs-declaration mode, without a list), every file sent once, signed and valid by the
official XSDs, in the saga's order, each with its receipts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cbec.ceb import codec, dxp
from cbec.ceb.xsd import xsd_errors
from cbec.signing.xmldsig import verify_document

pytestmark = pytest.mark.e2e

SEED_NAME = re.compile(r"^CEB(303|403|505|507|509|603|605|607|213|215|701)Message_\d{10}_\d{14}_\d{5}\.xml$")
RECEIPT_OF = {"CEB303": "CEB304", "CEB403": "CEB404", "CEB505": "CEB506", "CEB507": "CEB508", "CEB509": "CEB510",
              "CEB603": "CEB604", "CEB607": "CEB608", "CEB213": "CEB214", "CEB215": "CEB216", "CEB701": "CEB702"}


def _demo(out: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "demo", "--flow", "export", "--out", str(out),
                           *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return dict(json.loads((out / "summary.json").read_text(encoding="utf-8")))


def _sent(out: Path, summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every message customs got, in the order it got them (``sent`` in summary.json: the simulator's arrivals)."""
    arrived = {name: i for i, (name, _type, _key) in enumerate(summary["sent"])}
    files = sorted((out / "outbox").rglob("*.xml"), key=lambda p: arrived[p.name])
    assert len(files) == len(arrived)
    sent = []
    for path in files:
        assert SEED_NAME.match(path.name), path.name
        raw = path.read_bytes()
        assert xsd_errors(raw, "dxp") == [], path.name
        envelope = dxp.unwrap(raw)
        assert envelope.receiver_ids == ["DXPEDCCEB0000003"], path.name
        assert xsd_errors(envelope.data, "export") == [], path.name
        verdict = verify_document(envelope.data)
        assert verdict.ok, (path.name, verdict.reason)
        msg = codec.parse(envelope.data)
        sent += [(msg.type, doc) for doc in msg.docs]
    return sent


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("export-demo")
    return out, _demo(out, "--orders", "3")


def test_every_export_message_is_sent_once_signed_and_xsd_valid(default_run: tuple[Path, dict[str, Any]]) -> None:
    out, summary = default_run
    types = Counter(t for t, _ in _sent(out, summary))
    assert types == {"CEB303": 4, "CEB403": 1, "CEB505": 4, "CEB603": 3, "CEB507": 1, "CEB509": 1, "CEB607": 1,
                     "CEB701": 1}


def test_each_clearance_goes_in_the_sagas_order(default_run: tuple[Path, dict[str, Any]]) -> None:
    out, summary = default_run
    sent = _sent(out, summary)
    order = [t for t, _ in sent]
    for c in summary["clearances"][:3]:  # those with a list
        order_no = c["clearanceKey"].split(":")[2]
        lists = [(i, doc["InventoryHead"]) for i, (t, doc) in enumerate(sent) if t == "CEB603"
                 and doc["InventoryHead"]["orderNo"] == order_no]
        [(at_list, head)] = lists
        [at_order] = [i for i, (t, doc) in enumerate(sent)
                      if t == "CEB303" and doc["OrderHead"]["orderNo"] == order_no]
        [at_waybill] = [i for i, (t, doc) in enumerate(sent)
                        if t == "CEB505" and doc["logisticsNo"] == head["logisticsNo"]]
        assert at_order < at_waybill < at_list
        collections = [i for i, (t, doc) in enumerate(sent) if t == "CEB403" and doc["orderNo"] == order_no]
        assert [i < at_list for i in collections] == ([True] if c["tradeMode"] == "9610" else [])
    last_list = max(i for i, t in enumerate(order) if t == "CEB603")
    assert last_list < order.index("CEB507") < order.index("CEB509") < order.index("CEB701")
    assert last_list < order.index("CEB607")


def test_every_export_message_gets_its_receipts_and_the_summary_its_result(
        default_run: tuple[Path, dict[str, Any]]) -> None:
    out, summary = default_run
    got: dict[str, Counter[str]] = {}
    for path in (out / "inbox").rglob("*.xml"):
        msg = codec.parse(dxp.unwrap(path.read_bytes()).data)
        node = msg.docs[0]
        got.setdefault(msg.type, Counter())[str(node.get("returnStatus", node.get("SummaryResultHead", {})
                                                          .get("decState", "")))] += 1
    assert got["CEB304"] == {"2": 4, "120": 4} and got["CEB506"] == {"2": 4, "399": 4}
    assert got["CEB604"] == {"2": 3, "120": 3, "399": 3, "800": 3}
    assert got["CEB508"] == {"2": 1, "399": 1} and got["CEB510"] == {"2": 1, "399": 1}
    assert got["CEB608"] == {"2": 1, "120": 1} and got["CEB702"] == {"2": 1, "399": 1}
    assert sum(got["CEB792"].values()) == 1
    *listed, declared = summary["clearances"]
    assert Counter(c["tradeMode"] for c in listed) == {"9610": 1, "9710": 1, "9810": 1}
    assert (declared["tradeMode"], declared["strategy"], declared["export"]["mode"]) == \
        ("9710", "9710报关单", "customs-declaration")
    assert declared["finished"] and set(declared["export"]["milestones"]) == {"arrived", "departed"}
    assert "export-inventory" not in declared["documents"]
    for c in listed:
        assert c["finished"], c
        assert set(c["export"]["milestones"]) >= {"arrived", "departed", "bound", "summarised"}
        assert c["invtNo"] and c["alerts"] == []


def test_the_faults_flow_refuses_a_cancel_after_departure_and_takes_a_return(tmp_path: Path) -> None:
    summary = _demo(tmp_path, "--orders", "3", "--scenario", "faults")
    *_, refused, returned = summary["clearances"]
    cancel = refused["documents"]["export-cancel"]
    assert cancel["phase"] == "refused" and cancel["errors"][0]["code"] == "CBEC-EXPORT-CANCEL"
    assert "离境" in cancel["errors"][0]["message"]
    assert returned["documents"]["export-return"]["statusCode"] == 800
    assert returned["documents"]["return-tally"]["statusCode"] == 399
    assert all(c["finished"] for c in summary["clearances"])
    assert "CEB605" not in {t for t, _ in _sent(tmp_path, summary)}  # refused by the saga: never sent to customs
