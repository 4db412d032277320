"""Wiring: settings → key pools → certificate registry.

One key comes from ``CBEC_SIGNER_KEY_PEM``/``CBEC_SIGNER_CERT_PEM`` (or the PKCS#11 key label); more
tenants come from ``CBEC_SIGNER_TENANTS_FILE``, a JSON list of
``{"customs_code", "profile"?, "key_pem"?, "cert_pem"?, "pkcs11_key_label"?, "algorithm"?}``
(a ``key_pem`` means a software key, else the key lives in the configured PKCS#11 token).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from cbec.settings import SignerSettings
from cbec.signing.certs import certificate_info
from cbec.signing.keys import SigningKey, load_key_files
from cbec.signing.pkcs11 import Pkcs11Session, Pkcs11Settings
from cbec.signing.pool import KeyPool
from cbec.signing.registry import CertificateRegistry
from pydantic import BaseModel


class TenantKey(BaseModel):
    customs_code: str
    profile: str | None = None
    key_pem: Path | None = None
    cert_pem: Path | None = None
    pkcs11_key_label: str | None = None
    algorithm: Literal["RSA", "SM2"] | None = None


def _software_pool(key_path: Path, cert_path: Path, settings: SignerSettings) -> KeyPool:
    password = settings.key_password.get_secret_value().encode() if settings.key_password else None
    key = load_key_files(key_path, cert_path, password)
    # A software key is thread-safe and stateless: one object serves every pool slot.
    return KeyPool(lambda: key, size=max(1, settings.threads))


def _pkcs11_pool(settings: SignerSettings, key_label: str, cert: Path | None, algorithm: str | None) -> KeyPool:
    p11 = Pkcs11Settings(
        module=settings.pkcs11_module,
        token_label=settings.pkcs11_token_label,
        pin=settings.pkcs11_pin.get_secret_value(),
        key_label=key_label,
        algorithm="SM2" if (algorithm or settings.pkcs11_algorithm) == "SM2" else "RSA",
        certificate=cert.read_bytes() if cert else None,
        sm2_mechanism=settings.pkcs11_sm2_mechanism,
        sm2_input=settings.pkcs11_sm2_input,
        sm2_output=settings.pkcs11_sm2_output,
    )

    def connect() -> SigningKey:
        return Pkcs11Session(p11)

    return KeyPool(connect, size=settings.pool_size)


def key_factory(settings: SignerSettings) -> KeyPool:
    """A pool of connections to the default key of the configured backend."""
    if settings.backend == "software":
        if settings.key_pem is None or settings.cert_pem is None:
            raise ValueError("software backend needs CBEC_SIGNER_KEY_PEM and CBEC_SIGNER_CERT_PEM")
        return _software_pool(settings.key_pem, settings.cert_pem, settings)
    return _pkcs11_pool(settings, settings.pkcs11_key_label, settings.cert_pem, None)


def tenant_keys(path: Path) -> list[TenantKey]:
    return [TenantKey.model_validate(item) for item in json.loads(path.read_text(encoding="utf-8"))]


def build_registry(settings: SignerSettings) -> tuple[CertificateRegistry, dict[str, KeyPool]]:
    """The registry of every configured tenant and the pools behind it (by customs code)."""
    registry = CertificateRegistry()
    pools: dict[str, KeyPool] = {}
    if settings.tenants_file is not None:
        for tenant in tenant_keys(settings.tenants_file):
            if tenant.key_pem is not None:
                if tenant.cert_pem is None:
                    raise ValueError(f"tenant {tenant.customs_code}: key_pem needs cert_pem")
                pool = _software_pool(tenant.key_pem, tenant.cert_pem, settings)
            else:
                label = tenant.pkcs11_key_label or settings.pkcs11_key_label
                pool = _pkcs11_pool(settings, label, tenant.cert_pem, tenant.algorithm)
            registry.register(tenant.customs_code, pool, tenant.profile or settings.profile)
            pools[tenant.customs_code] = pool
    has_default = settings.backend == "pkcs11" or settings.key_pem is not None
    if has_default or not pools:
        pool = key_factory(settings)
        code = settings.tenant or certificate_info(pool.certificate_der).holder_code
        if not code:
            raise ValueError("set CBEC_SIGNER_TENANT: the certificate names no holder code (subject OU)")
        registry.register(code, pool, settings.profile)
        pools[code] = pool
    return registry, pools
