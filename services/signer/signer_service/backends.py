"""Wiring: settings → key pool → certificate registry."""

from __future__ import annotations

from cbec.signing.certs import certificate_info
from cbec.signing.keys import SigningKey, load_key_files
from cbec.signing.pkcs11 import Pkcs11Session, Pkcs11Settings
from cbec.signing.pool import KeyPool
from cbec.signing.registry import CertificateRegistry

from signer_service.settings import SignerSettings


def key_factory(settings: SignerSettings) -> KeyPool:
    """A pool of ``signer_pool_size`` connections to the configured backend."""
    if settings.signer_backend == "software":
        if settings.signer_key_pem is None or settings.signer_cert_pem is None:
            raise ValueError("software backend needs CBEC_SIGNER_KEY_PEM and CBEC_SIGNER_CERT_PEM")
        key = load_key_files(settings.signer_key_pem, settings.signer_cert_pem)
        # A software key is thread-safe and stateless: one object serves every pool slot.
        return KeyPool(lambda: key, size=max(1, settings.signer_threads))
    cert = settings.signer_cert_pem.read_bytes() if settings.signer_cert_pem else None
    p11 = Pkcs11Settings(
        module=settings.pkcs11_module,
        token_label=settings.pkcs11_token_label,
        pin=settings.pkcs11_pin.get_secret_value(),
        key_label=settings.pkcs11_key_label,
        algorithm=settings.pkcs11_algorithm,
        certificate=cert,
        sm2_mechanism=settings.pkcs11_sm2_mechanism,
        sm2_input=settings.pkcs11_sm2_input,
        sm2_output=settings.pkcs11_sm2_output,
    )

    def connect() -> SigningKey:
        return Pkcs11Session(p11)

    return KeyPool(connect, size=settings.signer_pool_size)


def build_registry(settings: SignerSettings, pool: KeyPool) -> CertificateRegistry:
    registry = CertificateRegistry()
    tenant = settings.signer_tenant or certificate_info(pool.certificate_der).holder_code
    if not tenant:
        raise ValueError("set CBEC_SIGNER_TENANT: the certificate names no holder code (subject OU)")
    registry.register(tenant, pool, settings.signer_profile)
    return registry
