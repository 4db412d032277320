"""`cbec up` gives the signer a software SM2 identity for every tenant of the stack's registry."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cbec.signing.certs import certificate_info
from cbec.signing.keys import load_key_files
from cbec_cli.stack import signer_identities
from cbec_cli.stack_identities import provision_identities, stack_tenants, write_signer_tenants_file
from cbec_testkit.tenants import DEMO_TENANTS
from signer_service.backends import tenant_keys

DEMO_CODES = [tenant["customsCode"] for tenant in DEMO_TENANTS]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_demo_tenant_gets_a_private_key_and_a_certificate_naming_it(tmp_path: Path) -> None:
    identities = provision_identities(tmp_path / "signer", stack_tenants({}))

    assert [i.customs_code for i in identities] == DEMO_CODES
    assert mode(tmp_path / "signer") == 0o700
    for identity in identities:
        assert mode(identity.key_pem) == 0o600
        info = certificate_info(identity.cert_pem.read_bytes())
        assert info.holder_code == identity.customs_code
        assert info.algorithm == "SM2"
        assert info.serial_hex == identity.serial_hex
        assert load_key_files(identity.key_pem, identity.cert_pem).serial_hex == identity.serial_hex
    assert not list((tmp_path / "signer").glob("*.partial"))


def test_the_signer_reads_the_tenants_file_it_is_given(tmp_path: Path) -> None:
    identities = provision_identities(tmp_path, stack_tenants({}))
    path = write_signer_tenants_file(tmp_path, identities)

    keys = tenant_keys(path)  # the signer's own parser of CBEC_SIGNER_TENANTS_FILE
    assert [(k.customs_code, k.key_pem, k.cert_pem) for k in keys] == [
        (i.customs_code, i.key_pem, i.cert_pem) for i in identities
    ]


def test_a_second_up_reuses_the_identities_and_replaces_only_a_broken_one(tmp_path: Path) -> None:
    first = provision_identities(tmp_path, stack_tenants({}))
    (tmp_path / f"{DEMO_CODES[1]}.cer").write_bytes(first[0].cert_pem.read_bytes())  # another tenant's cert
    (tmp_path / f"{DEMO_CODES[2]}.key").unlink()
    first[3].key_pem.chmod(0o644)

    second = provision_identities(tmp_path, stack_tenants({}))

    assert [i.reused for i in second] == [True, False, False, True, True]
    assert [i.serial_hex for i in second[3:]] == [i.serial_hex for i in first[3:]]
    assert second[1].serial_hex != first[1].serial_hex
    assert certificate_info(second[1].cert_pem.read_bytes()).holder_code == DEMO_CODES[1]
    assert mode(second[3].key_pem) == 0o600


def test_a_configured_registry_decides_whose_identities_are_made(tmp_path: Path) -> None:
    registry = tmp_path / "tenants.json"
    registry.write_text(json.dumps([
        {"customsCode": "4401230001", "name": "广州测试平台", "roles": ["platform"], "dxpId": "DXPENT0000000009"},
    ]), encoding="utf-8")

    identities = provision_identities(tmp_path / "signer", stack_tenants({"CBEC_TENANTS_FILE": str(registry)}))

    assert [(i.customs_code, i.name) for i in identities] == [("4401230001", "广州测试平台")]


def test_up_configures_the_signer_with_every_identity_and_prints_where_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = signer_identities(tmp_path, {})

    assert settings == {
        "CBEC_SIGNER_BACKEND": "software",
        "CBEC_SIGNER_TENANTS_FILE": str(tmp_path / "signer" / "tenants.json"),
    }
    printed = capsys.readouterr().err
    for tenant in DEMO_TENANTS:
        code = tenant["customsCode"]
        serial = certificate_info((tmp_path / "signer" / f"{code}.cer").read_bytes()).serial_hex
        line = next(line for line in printed.splitlines() if code in line)
        assert tenant["name"] in line and str(tmp_path / "signer" / f"{code}.cer") in line and serial in line


def test_a_second_up_says_it_reuses_the_identities(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = signer_identities(tmp_path, {})
    before = {p.name: p.read_bytes() for p in (tmp_path / "signer").iterdir()}
    capsys.readouterr()

    assert signer_identities(tmp_path, {}) == first
    assert "(0 new, 5 reused)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "signer").iterdir()} == before


@pytest.mark.parametrize(
    "env",
    [
        {"CBEC_SIGNER_BACKEND": "pkcs11"},
        {"CBEC_SIGNER_KEY_PEM": "/keys/sign.key", "CBEC_SIGNER_CERT_PEM": "/keys/sign.cer"},
        {"CBEC_SIGNER_TENANTS_FILE": "/keys/tenants.json"},
    ],
)
def test_keys_configured_elsewhere_are_left_alone(tmp_path: Path, env: dict[str, str]) -> None:
    assert signer_identities(tmp_path, env) == {}
    assert not (tmp_path / "signer").exists()
