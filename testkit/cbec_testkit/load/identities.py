"""A software SM2 key and self-signed certificate per tenant, in the signer's multi-tenant file."""

from __future__ import annotations

import json
from pathlib import Path

from cbec.signing.certs import generate_sm2_identity

from cbec_testkit.tenants import DEMO_TENANTS


def provision_signer_keys(folder: Path) -> dict[str, str]:
    """Keys for every demo tenant in ``folder``; returns the signer's settings that load them."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    entries = []
    for tenant in DEMO_TENANTS:
        code = str(tenant["customsCode"])
        key_pem, cert_pem = generate_sm2_identity(code, str(tenant["name"]))
        key, cert = folder / f"{code}.key", folder / f"{code}.cer"
        key.write_bytes(key_pem)
        key.chmod(0o600)
        cert.write_bytes(cert_pem)
        entries.append({"customs_code": code, "key_pem": str(key), "cert_pem": str(cert)})
    tenants_file = folder / "tenants.json"
    tenants_file.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    return {"CBEC_SIGNER_BACKEND": "software", "CBEC_SIGNER_TENANTS_FILE": str(tenants_file)}
