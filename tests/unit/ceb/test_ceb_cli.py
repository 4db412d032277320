"""`cbec validate | parse | build` on bare and DxpMsg-wrapped files."""

from __future__ import annotations

import json
from pathlib import Path

import cbec_testkit.samples.messages as ex
from cbec.ceb.codec import build, parse
from cbec.ceb.dxp import wrap
from cbec.reference import xsd_dir
from cbec_cli.main import app
from ceb_samples import samples_dir
from typer.testing import CliRunner

runner = CliRunner()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_validate_accepts_a_consistent_set_including_a_dxp_wrapped_file(tmp_path: Path) -> None:
    order = write(tmp_path, "order.xml", build(ex.order_message()))
    payment = wrap(build(ex.payment_message()), msg_type="CEB411", sender_id="S", receiver_ids=["R"])
    pay = write(tmp_path, "payment.dxp.xml", payment)
    result = runner.invoke(app, ["validate", str(order), str(pay), "--xsd", str(xsd_dir())])
    assert result.exit_code == 0, result.output
    assert result.output == ""


def test_validate_prints_one_line_per_error_and_exits_1(tmp_path: Path) -> None:
    order = ex.order_message()
    order.docs[0]["OrderHead"]["acturalPaid"] = "1"
    payment = ex.payment_message()  # pays the original amount: now differs from the order
    o = write(tmp_path, "o.xml", build(order))
    p = write(tmp_path, "p.xml", build(payment))
    result = runner.invoke(app, ["validate", str(o), str(p)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{o}: Order[1].OrderHead.acturalPaid: acturalPaid 1 ≠ 40 + 10 + 0 − 0 = 50" in lines[0]
    assert lines[0].endswith("[CBEC-ACTURAL-PAID]")
    assert any(line.startswith(f"{p}: Payment[1].PaymentHead.amountPaid:") for line in lines)


def test_validate_with_xsd_reports_schema_errors_too(tmp_path: Path) -> None:
    order = ex.order_message()
    order.docs[0]["OrderHead"]["orderNo"] = "x" * 61
    path = write(tmp_path, "o.xml", build(order))
    result = runner.invoke(app, ["validate", str(path), "--xsd", str(xsd_dir())])
    assert result.exit_code == 1
    assert "Order[1].OrderHead.orderNo: must be at most 60 characters, got 61" in result.output
    assert "[0002]" in result.output


def test_validate_refuses_defective_samples_unless_lenient() -> None:
    sample = samples_dir() / "export" / "CEB303Message.xml"
    strict = runner.invoke(app, ["validate", str(sample)])
    assert strict.exit_code == 1 and "BaseTransfer occurs more than once" in strict.output
    lenient = runner.invoke(app, ["validate", "--lenient", str(samples_dir() / "export" / "CEB214Message.xml")])
    assert lenient.exit_code == 0, lenient.output
    assert "(lenient)" in lenient.output


def test_parse_prints_json_and_build_turns_it_back_into_the_same_xml(tmp_path: Path) -> None:
    msg = ex.inventory_message(signature=ex.PLACEHOLDER_SIGNATURE)
    wrapped = wrap(build(msg), msg_type="CEB621", sender_id="S", receiver_ids=["R"])
    parsed = runner.invoke(app, ["parse", str(write(tmp_path, "i.xml", wrapped))])
    assert parsed.exit_code == 0, parsed.output
    data = json.loads(parsed.output)
    assert data["type"] == "CEB621" and data["docs"] == msg.docs
    built = runner.invoke(app, ["build", "CEB621"], input=parsed.output)
    assert built.exit_code == 0, built.output
    assert parse(built.stdout_bytes) == msg


def test_build_reports_model_errors_on_stderr(tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", "CEB311"], input=json.dumps({"docs": [{"OrderHead": {"orderNo": 5}}]}))
    assert result.exit_code == 1
    assert "Order[1].OrderHead.orderNo: value must be str" in result.output
    assert runner.invoke(app, ["build", "CEB311"], input="{not json").exit_code == 1
