"""Every official 2022-05 sample: parse → build gives XSD-valid XML, C14N-equal to the original.

Excluded from the comparison (as a canonical form allows): the XML declaration and BOM, comments,
whitespace-only text between elements (the samples are indented, the codec writes none),
namespace prefixes and where namespace declarations sit (receipts use a default namespace, the
codec writes ``ceb:``). Element names, order, attributes and every text value must match exactly.
The defective samples (reference README) are accepted by the lenient mode with a warning and
refused by strict mode with a message naming the defect.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cbec.ceb.codec import build, parse
from cbec.ceb.xsd import SchemaKind, xsd_errors
from cbec.errors import CebValidationError
from ceb_samples import samples_dir
from lxml import etree

NS = "http://www.chinaport.gov.cn/ceb"
DUP_BASE_TRANSFER = ["CEB303", "CEB403", "CEB505", "CEB507", "CEB603", "CEB605"]
DEFECTIVE = {f"{t}Message.xml" for t in DUP_BASE_TRANSFER} | {"CEB214Message.xml", "CEB792Message.xml"}
SAMPLES = sorted(samples_dir().glob("*/*.xml"))
VALID = [p for p in SAMPLES if p.name not in DEFECTIVE]


def _strip_layout(el: etree._Element) -> None:
    for node in el.iter():
        if len(node) and node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None


def canonical(xml: bytes | etree._Element) -> str:
    root = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    _strip_layout(root)
    return str(etree.canonicalize(root, rewrite_prefixes=True, with_comments=False))


def _kind(path: Path) -> SchemaKind:
    return "import" if path.parent.name == "import" else "export"


def test_the_pack_has_the_35_samples_and_27_are_xsd_valid() -> None:
    assert len(SAMPLES) == 35
    assert len(VALID) == 27
    assert all(xsd_errors(p.read_bytes(), _kind(p)) == [] for p in VALID)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_sample_round_trips_xsd_valid_and_c14n_equal(path: Path) -> None:
    original = path.read_bytes()
    msg = parse(original)
    assert msg.warnings == []
    rebuilt = build(msg)
    assert xsd_errors(rebuilt, _kind(path)) == []
    assert canonical(rebuilt) == canonical(original)
    assert parse(rebuilt) == msg


@pytest.mark.parametrize("mtype", DUP_BASE_TRANSFER)
def test_duplicated_base_transfer_is_refused_strictly_and_dropped_leniently(mtype: str) -> None:
    original = (samples_dir() / "export" / f"{mtype}Message.xml").read_bytes()
    with pytest.raises(CebValidationError) as err:
        parse(original)
    assert [(e.path, e.code) for e in err.value.errors] == [("BaseTransfer", "CBEC-DUPLICATE")]
    assert "more than once" in str(err.value)

    msg = parse(original, strict=False)
    assert [w.code for w in msg.warnings] == ["CBEC-DUPLICATE"]
    rebuilt = build(msg)
    assert xsd_errors(rebuilt, "export") == []
    expected = etree.fromstring(original)
    expected.remove(expected.findall(f"{{{NS}}}BaseTransfer")[1])
    assert canonical(rebuilt) == canonical(expected)


def test_ceb214_root_name_is_refused_strictly_and_repaired_leniently() -> None:
    original = (samples_dir() / "export" / "CEB214Message.xml").read_bytes()
    with pytest.raises(CebValidationError) as err:
        parse(original)
    assert any(e.code == "CBEC-ROOT" and "CEB214Message" in e.message for e in err.value.errors)

    msg = parse(original, strict=False)
    assert msg.type == "CEB214"
    codes = {w.code for w in msg.warnings}
    # The sample also carries appSenderId, which no 2022 XSD declares; lenient mode drops it.
    assert codes == {"CBEC-ROOT", "CBEC-UNEXPECTED"}
    assert all("appSenderId" in w.path for w in msg.warnings if w.code == "CBEC-UNEXPECTED")
    rebuilt = build(msg)
    assert xsd_errors(rebuilt, "export") == []
    expected = etree.fromstring(original)
    expected.tag = f"{{{NS}}}CEB214Message"
    for extra in expected.iter(f"{{{NS}}}appSenderId"):
        extra.getparent().remove(extra)  # type: ignore[union-attr]
    assert canonical(rebuilt) == canonical(expected)


def test_ceb792_rows_without_gseqno_are_refused_strictly_and_flagged_leniently() -> None:
    original = (samples_dir() / "export" / "CEB792Message.xml").read_bytes()
    with pytest.raises(CebValidationError) as err:
        parse(original)
    assert len(err.value.errors) == 20
    first = err.value.errors[0]
    assert (first.code, first.path) == ("CBEC-REQUIRED", "SummaryResult[1].SummaryResultList[1].gseqno")

    msg = parse(original, strict=False)
    assert len(msg.warnings) == 20
    rows = msg.docs[0]["SummaryResultList"]
    assert rows[0]["gnum"] == "1" and "gseqno" not in rows[0]
