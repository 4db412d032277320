"""`cbec parse | build | validate` never lose a problem: lenient warnings on stderr, build checked
against the official XSD, strict validation reporting everything in one run, each problem once."""

from __future__ import annotations

import json
from pathlib import Path

import cbec_testkit.samples.messages as ex
from cbec.ceb.codec import build, parse
from cbec.reference import xsd_dir
from cbec_cli.main import app
from lxml import etree
from typer.testing import CliRunner

runner = CliRunner()
NS = "http://www.chinaport.gov.cn/ceb"
DXP_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "dxp" / "DxpMsgSv-CEB312.xml"


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _order_with_wrong_case_gmodel(tmp_path: Path) -> Path:
    root = etree.fromstring(build(ex.order_message()))
    el = root.find(f"{_q('Order')}/{_q('OrderList')}/{_q('gmodel')}")
    assert el is not None
    el.tag = _q("gModel")
    path = tmp_path / "order.xml"
    path.write_bytes(etree.tostring(root))
    return path


def _unsigned_inventory_without_unit1(tmp_path: Path) -> Path:
    root = etree.fromstring(build(ex.inventory_message()))
    line = root.find(f"{_q('Inventory')}/{_q('InventoryList')}")
    assert line is not None
    line.remove(line.find(_q("unit1")))  # type: ignore[arg-type]
    path = tmp_path / "inventory.xml"
    path.write_bytes(etree.tostring(root))
    return path


def test_parse_lenient_warns_on_stderr_about_the_element_it_dropped(tmp_path: Path) -> None:
    order = _order_with_wrong_case_gmodel(tmp_path)
    result = runner.invoke(app, ["parse", "--lenient", str(order)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any(f"{order}: Order[1].OrderList[1].gModel: " in ln and "did you mean gmodel?" in ln for ln in lines)
    assert any(f"{order}: Order[1].OrderList[1].gmodel: " in ln and "[CBEC-REQUIRED]" in ln for ln in lines)
    assert len(lines) == len(set(lines)) == 2
    data = json.loads(result.stdout)
    assert "gModel" not in data["docs"][0]["OrderList"][0]
    assert [w["path"] for w in data["warnings"]] == ["Order[1].OrderList[1].gModel", "Order[1].OrderList[1].gmodel"]


def test_build_refuses_an_order_that_fails_the_official_xsd(tmp_path: Path) -> None:
    parsed = runner.invoke(app, ["parse", "--lenient", str(_order_with_wrong_case_gmodel(tmp_path))])
    built = runner.invoke(app, ["build", "CEB311"], input=parsed.stdout)
    assert built.exit_code == 1
    assert built.stdout == ""
    assert "gmodel" in built.stderr and "[0002]" in built.stderr
    assert all(line.startswith("stdin: ") for line in built.stderr.splitlines())


def test_build_writes_an_unsigned_message_for_the_signer_and_says_it_still_needs_its_signature() -> None:
    msg = ex.inventory_message()
    result = runner.invoke(app, ["build", "CEB621"], input=json.dumps({"docs": msg.docs,
                                                                        "base_transfer": msg.base_transfer}))
    assert result.exit_code == 0, result.output
    assert parse(result.stdout_bytes).docs == msg.docs
    assert "ds:Signature" in result.stderr and "sign" in result.stderr


def test_strict_validate_reports_a_missing_field_and_the_missing_signature_in_one_run(tmp_path: Path) -> None:
    path = _unsigned_inventory_without_unit1(tmp_path)
    for extra in ([], ["--xsd", str(xsd_dir())]):
        result = runner.invoke(app, ["validate", str(path), *extra])
        assert result.exit_code == 1
        lines = result.stdout.splitlines()
        assert any("Inventory[1].InventoryList[1].unit1:" in ln and "[CBEC-REQUIRED]" in ln for ln in lines)
        assert any(ln.startswith(f"{path}: Signature:") and "[CBEC-SIGNATURE]" in ln for ln in lines)
        product = [ln for ln in lines if "[0002]" not in ln]
        assert len(product) == 2, lines


def test_lenient_validate_prints_each_missing_element_once(tmp_path: Path) -> None:
    path = _unsigned_inventory_without_unit1(tmp_path)
    result = runner.invoke(app, ["validate", "--lenient", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == len(set(lines)) == 2
    assert sum("unit1" in line for line in lines) == 1


def test_lenient_validate_warns_about_a_wrong_case_field_and_fails_on_the_missing_one(tmp_path: Path) -> None:
    order = _order_with_wrong_case_gmodel(tmp_path)
    result = runner.invoke(app, ["validate", "--lenient", str(order)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "did you mean gmodel?" in lines[0] and lines[0].endswith("(lenient)")
    assert "gmodel" in lines[1] and not lines[1].endswith("(lenient)")


def test_parse_and_validate_unwrap_a_dxp_msg_sv_receipt() -> None:
    parsed = runner.invoke(app, ["parse", str(DXP_SAMPLE)])
    assert parsed.exit_code == 0, parsed.output
    assert json.loads(parsed.stdout)["type"] == "CEB312"
    validated = runner.invoke(app, ["validate", str(DXP_SAMPLE), "--xsd", str(xsd_dir())])
    assert validated.exit_code == 0, validated.output
    assert validated.output == ""


def test_a_namespace_less_receipt_passes_validate_only_leniently_with_a_warning(tmp_path: Path) -> None:
    xml = build(ex.order_receipt())
    path = tmp_path / "bare.xml"
    path.write_bytes(xml.replace(b"ceb:", b"").replace(b' xmlns:ceb="http://www.chinaport.gov.cn/ceb"', b""))
    strict = runner.invoke(app, ["validate", str(path)])
    assert strict.exit_code == 1 and "[CBEC-NAMESPACE]" in strict.stdout
    lenient = runner.invoke(app, ["validate", "--lenient", str(path)])
    assert lenient.exit_code == 0, lenient.output
    assert lenient.stdout.count("\n") == 1 and "[CBEC-NAMESPACE] (lenient)" in lenient.stdout
    parsed = runner.invoke(app, ["parse", "--lenient", str(path)])
    assert parsed.exit_code == 0 and "[CBEC-NAMESPACE]" in parsed.stderr
