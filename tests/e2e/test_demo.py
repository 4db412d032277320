"""`cbec demo` as a user runs it: 20 full clearances to customs and back, every file checked by the official XSDs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from cbec.ceb import codec, dxp
from cbec.ceb.xsd import xsd_errors
from cbec.signing.xmldsig import verify_document

pytestmark = pytest.mark.e2e

SEED_NAME = re.compile(r"^CEB(311|411|511|621|623|625|711)Message_\d{10}_\d{14}_\d{5}\.xml$")


def _demo(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cbec_cli.main", "demo", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    done = _demo(out, "--orders", "20")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_demo_sends_every_document_once_signed_xsd_valid_and_named_by_the_seed_rule(demo_out: Path) -> None:
    files = sorted((demo_out / "outbox").rglob("*.xml"))  # customs (the simulator) took them to taken/<day>/
    types: Counter[str] = Counter()
    for path in files:
        assert SEED_NAME.match(path.name), path.name
        raw = path.read_bytes()
        assert xsd_errors(raw, "dxp") == [], path.name
        envelope = dxp.unwrap(raw)
        assert xsd_errors(envelope.data, "import") == [], path.name
        verdict = verify_document(envelope.data)
        assert verdict.ok, verdict.reason
        assert verdict.algorithm == "SM2"
        types[envelope.msg_type] += 1
    assert types == {"CEB311Message": 20, "CEB411Message": 20, "CEB511Message": 20, "CEB621Message": 20,
                     "CEB711Message": 1}


def test_demo_receives_the_customs_receipt_sequence_of_each_document(demo_out: Path) -> None:
    by_type: dict[str, Counter[str]] = {}
    tax_bills: list[str] = []
    for path in (demo_out / "inbox").rglob("*.xml"):  # the link archived them in archive/<day>/
        msg = codec.parse(dxp.unwrap(path.read_bytes()).data)
        if msg.type == "CEB816":  # a released list's tax bill, a second after its 800 (if the demo still ran)
            tax_bills.append(msg.docs[0]["TaxHeadRd"]["invtNo"])
            continue
        by_type.setdefault(msg.type, Counter())[msg.docs[0]["returnStatus"]] += 1
    assert len(tax_bills) == len(set(tax_bills)) <= 20
    for receipt in ("CEB312", "CEB412", "CEB512"):
        assert by_type[receipt] == {"2": 20, "120": 20}
    assert by_type["CEB622"] == {"2": 20, "120": 20, "399": 20, "800": 20}
    assert by_type["CEB712"] == {"2": 1, "120": 1}


def test_demo_summary_shows_every_clearance_released_with_its_receipt_history(demo_out: Path) -> None:
    summary = json.loads((demo_out / "summary.json").read_text(encoding="utf-8"))
    clearances = summary["clearances"]
    assert len(clearances) == 20
    assert Counter(c["tradeMode"] for c in clearances) == {"9610": 10, "1210": 10}
    assert summary["statusCounts"] == {"released (800)": 20}
    for c in clearances:
        docs = c["documents"]
        assert [r["returnStatus"] for r in docs["inventory"]["receipts"]] == [2, 120, 399, 800]
        for kind in ("order", "payment", "waybill"):
            assert docs[kind]["statusCode"] == 120 and docs[kind]["status"] == "customs accepted (120)"
        assert c["waiting"] == {} and c["alerts"] == []
        assert c["saga"] == {"order": "customs accepted (120)", "payment": "customs accepted (120)",
                             "waybill": "customs accepted (120)", "inventory": "released (800)"}
    assert summary["entry"]["statusCode"] == 120


def test_demo_output_carries_no_buyer_identity_in_the_summary(demo_out: Path) -> None:
    text = (demo_out / "summary.json").read_text(encoding="utf-8")
    assert "buyerIdNumber" not in text and "310101" not in text


def test_the_faults_scenario_corrects_inspects_recovers_cancels_and_returns(tmp_path: Path) -> None:
    done = _demo(tmp_path, "--scenario", "faults", "--orders", "7", "--timeout", "60")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    rejected, inspected, lost, cancelled, returned, refused, too_late = summary["clearances"]
    assert [r["returnStatus"] for r in rejected["documents"]["order"]["receipts"]] == [2, 100, 2, 120]
    assert 500 in [r["returnStatus"] for r in inspected["documents"]["inventory"]["receipts"]]
    assert lost["resends"] == {"order": 1, "payment": 1} and lost["documents"]["order"]["statusCode"] == 120
    assert cancelled["documents"]["cancel"]["statusCode"] == 399
    assert returned["documents"]["return"]["statusCode"] == 399
    assert refused["documents"]["return"]["phase"] == "refused"
    assert refused["documents"]["return"]["errors"][0]["code"] == "-625004"
    assert too_late["documents"]["cancel"]["phase"] == "refused"
    assert too_late["documents"]["cancel"]["errors"][0]["code"] == "-623005"
    assert all(c["finished"] for c in summary["clearances"])
