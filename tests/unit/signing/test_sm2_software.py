"""Software SM2 on the system OpenSSL, checked against independent implementations."""

from __future__ import annotations

import subprocess
from pathlib import Path

import gmssl.func
import pytest
from asn1crypto import keys as akeys
from asn1crypto import pem as apem
from cbec.signing import sm2
from cbec.signing.certs import generate_sm2_identity
from cbec.signing.sm2 import DEFAULT_SM2_ID, NotAnSM2Key, SoftwareSM2Key, der_to_rs, rs_to_der, sm2_verify
from gmssl import sm2 as gm_sm2

MESSAGE = "<ds:SignedInfo>加签 test</ds:SignedInfo>".encode()


def _gmssl(point: bytes, private_hex: str = "") -> gm_sm2.CryptSM2:
    crypt = gm_sm2.CryptSM2(private_key=private_hex, public_key="")
    crypt.public_key = point[1:].hex()  # set directly: gmssl's constructor lstrip("04") mangles some keys
    return crypt


def _gmssl_verifier(key: SoftwareSM2Key) -> gm_sm2.CryptSM2:
    return _gmssl(key.public_point)


def test_signature_is_64_byte_r_s_and_verifies_with_our_verifier(sm2_key: SoftwareSM2Key) -> None:
    sig = sm2_key.sign(MESSAGE)
    assert len(sig) == 64
    assert sm2_verify(sm2_key.certificate_der, MESSAGE, sig)


def test_signature_verifies_with_pure_python_gmssl_as_sm3_with_sm2(sm2_key: SoftwareSM2Key) -> None:
    sig = sm2_key.sign(MESSAGE)
    # gmssl's verify_with_sm3 computes Z with the id 1234567812345678 itself.
    assert _gmssl_verifier(sm2_key).verify_with_sm3(sig.hex(), MESSAGE)
    assert not _gmssl_verifier(sm2_key).verify_with_sm3(sig.hex(), MESSAGE + b"x")


def test_gmssl_signature_verifies_with_our_verifier(sm2_identity: tuple[bytes, bytes]) -> None:
    key_pem, cert_pem = sm2_identity
    _, _, der = apem.unarmor(key_pem)
    d = akeys.PrivateKeyInfo.load(der)["private_key"].parsed["private_key"].native
    ours = SoftwareSM2Key.from_pem(key_pem, cert_pem)
    signer = _gmssl(ours.public_point, format(d, "064x"))
    sig_hex = signer.sign_with_sm3(MESSAGE, gmssl.func.random_hex(signer.para_len))
    assert sm2_verify(cert_pem, MESSAGE, bytes.fromhex(sig_hex))
    assert not sm2_verify(cert_pem, MESSAGE + b"!", bytes.fromhex(sig_hex))


def test_openssl_cli_verifies_with_the_id_and_rejects_a_wrong_id(
    sm2_key: SoftwareSM2Key, sm2_identity: tuple[bytes, bytes], tmp_path: Path
) -> None:
    (tmp_path / "cert.pem").write_bytes(sm2_identity[1])
    (tmp_path / "msg").write_bytes(MESSAGE)
    (tmp_path / "sig.der").write_bytes(rs_to_der(sm2_key.sign(MESSAGE)))
    subprocess.run(
        ["openssl", "x509", "-in", "cert.pem", "-pubkey", "-noout", "-out", "pub.pem"],
        cwd=tmp_path,
        check=True,
    )

    def cli_verify(distid: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                "openssl",
                "pkeyutl",
                "-verify",
                "-rawin",
                "-digest",
                "sm3",
                "-pubin",
                "-inkey",
                "pub.pem",
                "-pkeyopt",
                f"distid:{distid}",
                "-in",
                "msg",
                "-sigfile",
                "sig.der",
            ],
            cwd=tmp_path,
            capture_output=True,
        )

    good = cli_verify(DEFAULT_SM2_ID.decode())
    assert good.returncode == 0, good.stderr
    assert b"Signature Verified Successfully" in good.stdout
    assert cli_verify("8765432187654321").returncode != 0


def test_our_verifier_rejects_a_signature_made_with_another_id(sm2_identity: tuple[bytes, bytes]) -> None:
    other_id = SoftwareSM2Key.from_pem(*sm2_identity, ident=b"ALICE123@YAHOO.COM")
    sig = other_id.sign(MESSAGE)
    assert not sm2_verify(other_id.certificate_der, MESSAGE, sig)
    assert sm2_verify(other_id.certificate_der, MESSAGE, sig, ident=b"ALICE123@YAHOO.COM")


def test_wrong_key_and_tampered_data_do_not_verify(sm2_key: SoftwareSM2Key) -> None:
    _, other_cert = generate_sm2_identity("X", "Y")
    sig = sm2_key.sign(MESSAGE)
    assert not sm2_verify(other_cert, MESSAGE, sig)
    assert not sm2_verify(sm2_key.certificate_der, MESSAGE[:-1], sig)
    assert not sm2_verify(sm2_key.certificate_der, MESSAGE, bytes(64))
    assert not sm2_verify(sm2_key.certificate_der, MESSAGE, b"short")


def test_a_non_sm2_ec_key_is_refused(sm2_identity: tuple[bytes, bytes]) -> None:
    # The SoftHSM2 trap: an "EC" key on the SM2 curve makes ECDSA, not SM2, signatures.
    ec_pem = subprocess.run(
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout"], capture_output=True, check=True
    ).stdout
    with pytest.raises(NotAnSM2Key):
        SoftwareSM2Key.from_pem(ec_pem, sm2_identity[1])


def test_a_key_that_does_not_match_the_certificate_is_refused(sm2_identity: tuple[bytes, bytes]) -> None:
    _, other_cert = generate_sm2_identity("X", "Y")
    with pytest.raises(ValueError, match="does not match"):
        SoftwareSM2Key.from_pem(sm2_identity[0], other_cert)


def test_der_and_r_s_round_trip_including_high_bit_and_short_components() -> None:
    for rs in (bytes(range(64)), b"\xff" * 64, b"\0" * 31 + b"\x01" + b"\x80" + b"\0" * 31):
        der = rs_to_der(rs)
        assert der_to_rs(der) == rs
    with pytest.raises(ValueError):
        der_to_rs(b"\x30\x03\x02\x01")


def test_host_side_prehash_is_what_sm3_with_sm2_signs(sm2_key: SoftwareSM2Key) -> None:
    # gmssl's raw verify takes e directly, so it passes only if our e = SM3(Z‖M) equals OpenSSL's.
    e = sm2.sm2_prehash(sm2_key.public_point, MESSAGE)
    sig = sm2_key.sign(MESSAGE)
    assert _gmssl_verifier(sm2_key).verify(sig.hex(), e)
    assert not _gmssl_verifier(sm2_key).verify(sig.hex(), sm2.sm2_prehash(sm2_key.public_point, MESSAGE, b"x"))


def test_known_answer_from_gm_t_0003_5_verifies() -> None:
    """The GM/T 0003.5 example on the recommended curve (d, k fixed; ID 1234567812345678)."""
    from asn1crypto import keys as akeys

    d = int("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8", 16)
    curve = gm_sm2.CryptSM2(private_key="", public_key="")
    point = bytes.fromhex("04" + curve._kg(d, curve.ecc_table["g"]))
    assert point[1:33].hex().upper() == "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    spki = akeys.PublicKeyInfo(
        {"algorithm": {"algorithm": "ec", "parameters": ("named", "1.2.156.10197.1.301")}, "public_key": point}
    ).dump()
    rs = bytes.fromhex(
        "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
        "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
    )
    assert sm2_verify(bytes(spki), b"message digest", rs)
    assert not sm2_verify(bytes(spki), b"message digesT", rs)
    assert not sm2_verify(bytes(spki), b"message digest", rs, ident=b"")  # OpenSSL's own default id
