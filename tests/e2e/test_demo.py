"""`cbec demo` as a user runs it: 20 orders to customs and back, every file checked by the official XSDs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cbec.ceb import codec, dxp
from cbec.ceb.xsd import xsd_errors
from cbec.signing.xmldsig import verify_document

pytestmark = pytest.mark.e2e

SEED_NAME = re.compile(r"^CEB311Message_\d{10}_\d{14}_\d{5}\.xml$")


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    done = subprocess.run([sys.executable, "-m", "cbec_cli.main", "demo", "--orders", "20", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_demo_sends_twenty_signed_xsd_valid_orders_named_by_the_seed_rule(demo_out: Path) -> None:
    files = sorted((demo_out / "outbox").glob("*.xml"))
    assert len(files) == 20
    for path in files:
        assert SEED_NAME.match(path.name), path.name
        raw = path.read_bytes()
        assert xsd_errors(raw, "dxp") == [], path.name
        envelope = dxp.unwrap(raw)
        assert envelope.msg_type == "CEB311Message"
        assert xsd_errors(envelope.data, "import") == [], path.name
        verdict = verify_document(envelope.data)
        assert verdict.ok, verdict.reason
        assert verdict.algorithm == "SM2"


def test_demo_receives_two_receipts_per_order(demo_out: Path) -> None:
    receipts = sorted((demo_out / "inbox").glob("*.xml"))
    assert len(receipts) == 40
    statuses = sorted(codec.parse(dxp.unwrap(p.read_bytes()).data).docs[0]["returnStatus"] for p in receipts)
    assert statuses == ["120"] * 20 + ["2"] * 20


def test_demo_summary_shows_every_order_accepted_with_its_receipt_history(demo_out: Path) -> None:
    summary = json.loads((demo_out / "summary.json").read_text(encoding="utf-8"))
    orders = [c["documents"]["order"] for c in summary["clearances"]]
    assert len(orders) == 20
    assert all(o["statusCode"] == 120 and o["status"] == "customs accepted (120)" for o in orders)
    assert all([r["returnStatus"] for r in o["receipts"]] == [2, 120] for o in orders)


def test_demo_output_carries_no_buyer_identity_in_the_summary(demo_out: Path) -> None:
    text = (demo_out / "summary.json").read_text(encoding="utf-8")
    assert "buyerIdNumber" not in text and "310101" not in text
