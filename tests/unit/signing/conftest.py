"""Shared identities for the signing tests (generated once per session: RSA keygen is slow)."""

from __future__ import annotations

import pytest
from cbec.signing.certs import generate_rsa_identity, generate_sm2_identity
from cbec.signing.keys import SoftwareRSAKey
from cbec.signing.sm2 import SoftwareSM2Key

HOLDER = "3301961234"


@pytest.fixture(scope="session")
def sm2_identity() -> tuple[bytes, bytes]:
    return generate_sm2_identity(HOLDER, "杭州测试跨境电商有限公司")


@pytest.fixture(scope="session")
def rsa_identity() -> tuple[bytes, bytes]:
    return generate_rsa_identity(HOLDER, "杭州测试跨境电商有限公司")


@pytest.fixture(scope="session")
def sm2_key(sm2_identity: tuple[bytes, bytes]) -> SoftwareSM2Key:
    return SoftwareSM2Key.from_pem(*sm2_identity)


@pytest.fixture(scope="session")
def rsa_key(rsa_identity: tuple[bytes, bytes]) -> SoftwareRSAKey:
    return SoftwareRSAKey.from_pem(*rsa_identity)
