"""Dev only: a SoftHSM2 token with one RSA key per tenant, and the signer's tenants file naming them.

Run by the chart's softhsm-init Job (on the signer image built with WITH_SOFTHSM=1) onto the PVC at
$SOFTHSM_DIR, and by docker compose's softhsm-init service onto a volume (tenants: $CBEC_TENANTS_FILE,
else the test kit's demo tenants). Idempotent: a finished token (its signer-tenants.json exists) is left as it is. The
certificates come from a throw-away test CA: nothing here is fit for production.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

root = Path(os.environ.get("SOFTHSM_DIR", "/var/lib/softhsm"))
done = root / "signer-tenants.json"
if done.exists():
    print(f"softhsm-init: {done} exists, token kept")
    sys.exit(0)

(root / "tokens").mkdir(parents=True, exist_ok=True)
(root / "certs").mkdir(exist_ok=True)
conf = root / "softhsm2.conf"
conf.write_text(f"directories.tokendir = {root}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
                "slots.removable = false\n")
os.environ["SOFTHSM2_CONF"] = str(conf)


def secret(name: str) -> str:
    """``name``'s value, or the content of the file ``<name>_FILE`` names (less one trailing newline)."""
    path = os.environ.get(f"{name}_FILE")
    if not path:
        return os.environ[name]
    content = Path(path).read_text(encoding="utf-8")
    return content[:-1] if content.endswith("\n") else content


label, pin = os.environ["CBEC_PKCS11_TOKEN_LABEL"], secret("CBEC_PKCS11_PIN")
subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                "--so-pin", secret("CBEC_PKCS11_SO_PIN"), "--pin", pin], check=True, stdout=subprocess.DEVNULL)

from asn1crypto import keys as akeys  # noqa: E402  (after SOFTHSM2_CONF is set)
from cbec.signing.certs import rsa_certificate_for_public_key  # noqa: E402
from cbec.signing.pkcs11 import load_module  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from pkcs11 import KeyType  # noqa: E402
from pkcs11.util.rsa import encode_rsa_public_key  # noqa: E402

if os.environ.get("CBEC_TENANTS_FILE"):
    tenants = json.loads(Path(os.environ["CBEC_TENANTS_FILE"]).read_text(encoding="utf-8"))
else:  # docker compose: the demo tenants of the test kit, as the services use them
    from cbec_testkit.tenants import DEMO_TENANTS

    tenants = DEMO_TENANTS
ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
entries = []
module = load_module(os.environ.get("CBEC_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"))
with module.get_token(token_label=label).open(user_pin=pin, rw=True) as session:
    for tenant in tenants:
        code = tenant["customsCode"]
        key_label = f"cbec-{code}"
        public, _private = session.generate_keypair(KeyType.RSA, 2048, label=key_label, store=True)
        spki = akeys.PublicKeyInfo({"algorithm": {"algorithm": "rsa"},
                                    "public_key": akeys.RSAPublicKey.load(encode_rsa_public_key(public))}).dump()
        public_key = serialization.load_der_public_key(spki)
        assert isinstance(public_key, rsa.RSAPublicKey)
        cert = root / "certs" / f"{code}.pem"
        cert.write_bytes(rsa_certificate_for_public_key(public_key, code, tenant["name"], ca))
        entries.append({"customs_code": code, "pkcs11_key_label": key_label, "cert_pem": str(cert),
                        "algorithm": "RSA"})
partial = done.with_suffix(".part")
partial.write_text(json.dumps(entries, indent=2), encoding="utf-8")
partial.replace(done)
print(f"softhsm-init: token {label!r} with {len(entries)} keys")
