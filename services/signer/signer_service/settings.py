"""Signer settings from the environment (prefix ``CBEC_``); secrets only from env or files."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from cbec.contracts import topics
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SignerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CBEC_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    signer_group_id: str = "cbec-signer"
    signer_requests_topic: str = topics.SIGN_REQUESTS
    signer_results_topic: str = topics.SIGN_RESULTS
    signer_dlq_topic: str = topics.SIGNER_DEAD_LETTERS
    signer_batch_size: int = 500
    signer_threads: int = 1
    signer_cache_size: int = 10_000
    signer_warm_cache_per_partition: int = 2_000

    signer_backend: Literal["software", "pkcs11"] = "software"
    signer_key_pem: Path | None = None
    signer_cert_pem: Path | None = None
    signer_key_password: SecretStr | None = None
    signer_tenant: str | None = None  # customs code the key signs for; default: certificate subject OU
    signer_tenants_file: Path | None = None  # JSON list of more tenants (see signer_service.backends)
    signer_profile: str = "spec-2022"
    signer_pool_size: int = 1

    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token_label: str = "cbec-signer"
    pkcs11_pin: SecretStr = SecretStr("")
    pkcs11_key_label: str = "cbec-signer"
    pkcs11_algorithm: Literal["RSA", "SM2"] = "RSA"
    pkcs11_sm2_mechanism: int | None = None
    pkcs11_sm2_input: Literal["message", "prehash"] = "message"
    pkcs11_sm2_output: Literal["rs", "der"] = "rs"

    signer_token: SecretStr | None = None
    signer_http_port: int | None = None
    signer_http_host: str = "0.0.0.0"
