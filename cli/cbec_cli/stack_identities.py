"""Software signing identities for the local stack: one SM2 key and self-signed certificate per tenant.

`cbec up` keeps them in `<stack dir>/signer/`:

    <code>.key      the tenant's SM2 private key (PEM, mode 0600; the folder is 0700)
    <code>.cer      its self-signed SM2-with-SM3 certificate (subject OU = the customs code)
    tenants.json    the signer's multi-tenant file (`CBEC_SIGNER_TENANTS_FILE`):
                    [{"customs_code": ..., "key_pem": ..., "cert_pem": ...}, ...]

A pair that is still valid for its tenant is reused, so a second `cbec up` signs with the same keys.
These identities are for a development stack only: customs accepts certificates issued by its CA.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cbec.tenants import Tenant, TenantRegistry

TENANTS_FILE = "tenants.json"


@dataclass(frozen=True)
class SigningIdentity:
    """One tenant's key and certificate files, as the signer will load them."""

    customs_code: str
    name: str
    key_pem: Path
    cert_pem: Path
    serial_hex: str
    reused: bool


def stack_tenants(env: Mapping[str, str]) -> list[Tenant]:
    """The tenants the stack's services serve: `CBEC_TENANTS_FILE` when set, else the demo tenants."""
    path = env.get("CBEC_TENANTS_FILE")
    if path:
        return TenantRegistry.from_file(Path(path)).all()
    from cbec_testkit.tenants import demo_registry  # the test kit's tenants, only when no registry is configured

    registry: TenantRegistry = demo_registry()
    return registry.all()


def _valid_pair(code: str, key: Path, cert: Path) -> str | None:
    """The certificate's serial when `key`/`cert` are a matching, current pair for `code`; else None."""
    from cbec.signing.certs import certificate_info
    from cbec.signing.keys import load_key_files

    if not (key.is_file() and cert.is_file()):
        return None
    try:
        load_key_files(key, cert)  # refuses a key that does not match its certificate
        info = certificate_info(cert.read_bytes())
    except (OSError, ValueError, RuntimeError):  # unreadable, mismatched or not a key: make a new pair
        return None
    now = datetime.now(UTC)
    if info.holder_code != code or info.expired(now) or info.not_yet_valid(now):
        return None
    return info.serial_hex


def _write_private(path: Path, data: bytes) -> None:
    """Writes a secret so that it is never readable by others, not even for a moment."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, path)


def _identity(folder: Path, tenant: Tenant) -> SigningIdentity:
    from cbec.signing.certs import certificate_serial_hex, generate_sm2_identity

    code = tenant.customs_code
    key, cert = folder / f"{code}.key", folder / f"{code}.cer"
    serial = _valid_pair(code, key, cert)
    if serial is not None:
        key.chmod(0o600)
        return SigningIdentity(code, tenant.name, key, cert, serial, reused=True)
    key_pem, cert_pem = generate_sm2_identity(code, tenant.name)
    _write_private(key, key_pem)
    cert.write_bytes(cert_pem)
    return SigningIdentity(code, tenant.name, key, cert, certificate_serial_hex(cert_pem), reused=False)


def provision_identities(folder: Path, tenants: Sequence[Tenant]) -> list[SigningIdentity]:
    """A software SM2 identity for every tenant in `folder` (existing valid ones reused), in order."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return [_identity(folder, tenant) for tenant in tenants]


def write_signer_tenants_file(folder: Path, identities: Sequence[SigningIdentity]) -> Path:
    """The signer's `CBEC_SIGNER_TENANTS_FILE` naming each identity's key and certificate."""
    entries = [
        {"customs_code": i.customs_code, "key_pem": str(i.key_pem), "cert_pem": str(i.cert_pem)}
        for i in identities
    ]
    path = folder / TENANTS_FILE
    path.write_text(json.dumps(entries, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def signer_settings(tenants_file: Path) -> dict[str, str]:
    """The signer's environment for the provisioned identities (software keys, one per tenant)."""
    return {"CBEC_SIGNER_BACKEND": "software", "CBEC_SIGNER_TENANTS_FILE": str(tenants_file)}
