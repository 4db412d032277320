"""Named signing profiles: what is digested, what is signed and which URIs are written.

Published implementations disagree (``ceb-formats.md`` §5.2), so a region/tenant picks a profile:

- ``spec-2022``: correct XML-DSig per SPEC22 §6 — inclusive C14N without comments (``URI=""``
  drops comments), chinaport SM2/SM3 URIs or W3C RSA-SHA1 URIs, the key signs canonical SignedInfo.
- ``eport-client``: the E-Port client (UKey control) conventions seen in WJ-CODE — the document is
  canonicalized *with comments* and digested with SHA-1 even for SM2 keys; URIs are in the W3C
  namespace (``xmldsig#sm2-sm3``, ``xmldsig#sha1``); the key hashes and signs canonical SignedInfo.
- ``hsm-digest-value``: the Sansec-HSM conventions seen in ZJ-SIGN — chinaport URIs for SM2, the
  CanonicalizationMethod written ``#WithComments``, and the key signs the base64 *DigestValue text*
  instead of SignedInfo. The document digest is taken over inclusive C14N with comments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from cbec.signing.keys import Algorithm

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_WITH_COMMENTS = C14N + "#WithComments"
ENVELOPED = DS_NS + "enveloped-signature"
CHINAPORT_SM2_SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3"
CHINAPORT_SM3 = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3"
W3C_RSA_SHA1 = DS_NS + "rsa-sha1"
W3C_SHA1 = DS_NS + "sha1"
W3C_SM2_SM3 = DS_NS + "sm2-sm3"  # not a W3C algorithm: the E-Port client's own spelling

DigestName = Literal["sm3", "sha1"]
SignedInput = Literal["signed_info", "digest_value"]


@dataclass(frozen=True, slots=True)
class SigningProfile:
    name: str
    canonicalization_uri: str
    document_with_comments: bool
    signed_input: SignedInput
    signature_uris: Mapping[Algorithm, str]
    digest_uris: Mapping[Algorithm, str]
    digests: Mapping[Algorithm, DigestName]

    def digest(self, algorithm: Algorithm) -> Callable[[bytes], bytes]:
        name = self.digests[algorithm]
        if name == "sha1":
            return lambda data: hashlib.sha1(data).digest()
        return lambda data: hashlib.new("sm3", data).digest()

    def algorithm_for(self, signature_uri: str) -> Algorithm | None:
        for algorithm, uri in self.signature_uris.items():
            if uri == signature_uri:
                return algorithm
        return None


SPEC_2022 = SigningProfile(
    name="spec-2022",
    canonicalization_uri=C14N,
    document_with_comments=False,
    signed_input="signed_info",
    signature_uris={"SM2": CHINAPORT_SM2_SM3, "RSA": W3C_RSA_SHA1},
    digest_uris={"SM2": CHINAPORT_SM3, "RSA": W3C_SHA1},
    digests={"SM2": "sm3", "RSA": "sha1"},
)

EPORT_CLIENT = SigningProfile(
    name="eport-client",
    canonicalization_uri=C14N,
    document_with_comments=True,
    signed_input="signed_info",
    signature_uris={"SM2": W3C_SM2_SM3, "RSA": W3C_RSA_SHA1},
    digest_uris={"SM2": W3C_SHA1, "RSA": W3C_SHA1},
    digests={"SM2": "sha1", "RSA": "sha1"},
)

HSM_DIGEST_VALUE = SigningProfile(
    name="hsm-digest-value",
    canonicalization_uri=C14N_WITH_COMMENTS,
    document_with_comments=True,
    signed_input="digest_value",
    signature_uris={"SM2": CHINAPORT_SM2_SM3, "RSA": W3C_RSA_SHA1},
    digest_uris={"SM2": CHINAPORT_SM3, "RSA": W3C_SHA1},
    digests={"SM2": "sm3", "RSA": "sha1"},
)

PROFILES: dict[str, SigningProfile] = {p.name: p for p in (SPEC_2022, EPORT_CLIENT, HSM_DIGEST_VALUE)}
DEFAULT_PROFILE = SPEC_2022.name


class UnknownProfile(ValueError):
    pass


def get_profile(name: str) -> SigningProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfile(f"unknown signing profile {name!r}; known: {', '.join(PROFILES)}") from None
