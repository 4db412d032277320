"""`cbec sign` and `cbec verify`: an enterprise signs with its own key files, support checks files."""

from __future__ import annotations

import base64
from pathlib import Path

from cbec.ceb.dxp import wrap
from cbec.signing.certs import certificate_der_from_pem_or_der, generate_rsa_identity, generate_sm2_identity
from cbec.signing.xmldsig import strip_signature, verify_document
from cbec_cli.main import app
from ceb_samples import samples_dir
from cryptography.hazmat.primitives import serialization
from lxml import etree
from typer.testing import CliRunner

runner = CliRunner()
DS = "{http://www.w3.org/2000/09/xmldsig#}"
SM2_SERIAL = 0x03000000000CDE6F


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def order_file(tmp_path: Path) -> Path:
    return write(tmp_path, "order.xml", strip_signature((samples_dir() / "import" / "CEB311Message.xml").read_bytes()))


def sm2_pem_pair(tmp_path: Path) -> tuple[Path, Path]:
    key_pem, cert_pem = generate_sm2_identity("1101180326", "测试企业", serial=SM2_SERIAL)
    return write(tmp_path, "key.pem", key_pem), write(tmp_path, "cert.pem", cert_pem)


def test_sign_writes_the_signed_declaration_to_stdout(tmp_path: Path) -> None:
    key, cert = sm2_pem_pair(tmp_path)
    result = runner.invoke(app, ["sign", "--key", str(key), "--cert", str(cert), str(order_file(tmp_path))])
    assert result.exit_code == 0, result.output
    signed = result.stdout_bytes
    assert signed.startswith(b"<?xml")
    assert etree.fromstring(signed).findtext(f"{DS}Signature/{DS}KeyInfo/{DS}KeyName") == "03000000000cde6f"
    verified = verify_document(signed)
    assert (verified.ok, verified.algorithm, verified.profile) == (True, "SM2", "spec-2022")


def test_sign_takes_the_e_port_issue_sign_cer_in_der_or_base64_and_a_der_key(tmp_path: Path) -> None:
    key_pem, cert_pem = generate_rsa_identity("1101180326", "测试企业", serial=0x01691FE9)
    private = serialization.load_pem_private_key(key_pem, None)
    key_der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_der = certificate_der_from_pem_or_der(cert_pem)
    key = write(tmp_path, "sign.key", key_der)
    for name, cert_bytes in [("der.cer", cert_der), ("b64.cer", base64.b64encode(cert_der) + b"\r\n")]:
        cert = write(tmp_path, name, cert_bytes)
        args = ["sign", "--key", str(key), "--cert", str(cert), "--profile", "eport-client", str(order_file(tmp_path))]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        verified = verify_document(result.stdout_bytes, profile="eport-client")
        assert (verified.ok, verified.serial_hex) == (True, "01691fe9")


def test_sign_reads_an_encrypted_key_password_from_the_environment(tmp_path: Path) -> None:
    key_pem, cert_pem = generate_rsa_identity("1101180326", "x")
    private = serialization.load_pem_private_key(key_pem, None)
    encrypted = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"88888888"),
    )
    key, cert = write(tmp_path, "k.pem", encrypted), write(tmp_path, "c.pem", cert_pem)
    args = ["sign", "--key", str(key), "--cert", str(cert), "--key-password-env", "UKEY_PIN", str(order_file(tmp_path))]
    assert runner.invoke(app, args, env={"UKEY_PIN": "88888888"}).exit_code == 0
    wrong = runner.invoke(app, args, env={"UKEY_PIN": "12345678"})
    assert wrong.exit_code == 1
    assert "[CBEC-SIG-KEY]" in wrong.stderr and "88888888" not in wrong.stderr


def test_sign_refusals_are_one_line_with_a_code_and_nothing_on_stdout(tmp_path: Path) -> None:
    key, cert = sm2_pem_pair(tmp_path)
    _, other_cert = generate_sm2_identity("1101180326", "x")
    mismatch = write(tmp_path, "other.pem", other_cert)
    receipt = write(tmp_path, "receipt.xml", (samples_dir() / "import" / "CEB312Message.xml").read_bytes())
    order = order_file(tmp_path)
    cases = [
        (["--key", str(key), "--cert", str(mismatch), str(order)], "does not match the certificate [CBEC-SIG-KEY]"),
        (["--key", str(key), "--cert", str(cert), str(receipt)], "[CBEC-SIG-ROOT]"),
        (["--key", str(key), "--cert", str(cert), str(tmp_path / "missing.xml")], "cannot read"),
        (["--key", str(tmp_path / "nokey.pem"), "--cert", str(cert), str(order)], "cannot read"),
    ]
    for args, expected in cases:
        result = runner.invoke(app, ["sign", *args])
        assert result.exit_code == 1, (args, result.output)
        assert result.stdout_bytes == b""
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    unknown = runner.invoke(app, ["sign", "--key", str(key), "--cert", str(cert), "--profile", "x", str(order)])
    assert unknown.exit_code == 2 and "spec-2022" in unknown.output


def test_verify_prints_one_line_per_file_and_exits_1_when_any_fails(tmp_path: Path) -> None:
    key, cert = sm2_pem_pair(tmp_path)
    signed = runner.invoke(
        app, ["sign", "--key", str(key), "--cert", str(cert), str(order_file(tmp_path))]
    ).stdout_bytes
    good = write(tmp_path, "good.xml", signed)
    wrapped = write(tmp_path, "good.dxp.xml", wrap(signed, msg_type="CEB311", sender_id="S", receiver_ids=["R"]))
    tampered = write(tmp_path, "tampered.xml", signed.replace(b"<ceb:orderNo>", b"<ceb:orderNo>1", 1))
    old_style = write(tmp_path, "old.xml", signed.replace(b">03000000000cde6f<", b">0001<"))
    garbage = write(tmp_path, "garbage.xml", b"<not xml")

    ok = runner.invoke(app, ["verify", str(good), str(wrapped)])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.splitlines() == [
        f"{good}: verified (SM2, profile spec-2022, certificate serial 03000000000cde6f)",
        f"{wrapped}: verified (SM2, profile spec-2022, certificate serial 03000000000cde6f)",
    ]

    files = [good, tampered, old_style, garbage, tmp_path / "missing.xml"]
    result = runner.invoke(app, ["verify", *map(str, files)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == len(files)
    assert lines[0].startswith(f"{good}: verified")
    assert lines[1].startswith(f"{tampered}: ") and lines[1].endswith("[CBEC-SIG-DIGEST]")
    assert lines[2].startswith(f"{old_style}: ") and lines[2].endswith("[CBEC-SIG-KEYNAME-LEGACY]")
    assert "0001" in lines[2] and "03000000000cde6f" in lines[2]
    assert lines[3].startswith(f"{garbage}: not well-formed")
    assert lines[4].startswith(f"{tmp_path / 'missing.xml'}: cannot read")


def test_verify_can_insist_on_one_profile(tmp_path: Path) -> None:
    key, cert = sm2_pem_pair(tmp_path)
    args = ["sign", "--key", str(key), "--cert", str(cert), "--profile", "eport-client", str(order_file(tmp_path))]
    signed = write(tmp_path, "s.xml", runner.invoke(app, args).stdout_bytes)
    assert runner.invoke(app, ["verify", "--profile", "eport-client", str(signed)]).exit_code == 0
    wrong = runner.invoke(app, ["verify", "--profile", "spec-2022", str(signed)])
    assert wrong.exit_code == 1 and wrong.stdout.rstrip().endswith("[CBEC-SIG-ALGORITHM]")
