"""Per-tenant certificate registry: customs code → certificate, key handle, algorithm, profile, expiry.

The registry is the only way the service signs: it refuses an expired (or not yet valid)
certificate, and a document whose ``BaseTransfer/copCode`` is not the certificate holder — customs
would reject it with -625013 ("申报单位 differs from the certificate"), so it is refused up front.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from cbec.signing.certs import CertificateInfo, certificate_info
from cbec.signing.keys import Algorithm, SigningKey
from cbec.signing.profiles import DEFAULT_PROFILE, get_profile
from cbec.signing.xmldsig import SigningError, cop_code, parse, root_kind, sign_tree

log = logging.getLogger(__name__)

HOLDER_MISMATCH = "-625013"
CERT_EXPIRED = "CBEC-SIG-CERT-EXPIRED"
UNKNOWN_TENANT = "CBEC-SIG-TENANT"
EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True, slots=True)
class CertificateEntry:
    customs_code: str
    key: SigningKey
    profile: str
    info: CertificateInfo

    @property
    def algorithm(self) -> Algorithm:
        return self.info.algorithm

    @property
    def serial_hex(self) -> str:
        return self.info.serial_hex

    @property
    def expires_at(self) -> datetime:
        return self.info.not_after


@dataclass(frozen=True, slots=True)
class ExpiryWarning:
    customs_code: str
    serial_hex: str
    expires_at: datetime
    days_left: int

    def __str__(self) -> str:
        return (
            f"certificate {self.serial_hex} of {self.customs_code} expires "
            f"{self.expires_at:%Y-%m-%d} ({self.days_left} days left)"
        )


class CertificateRegistry:
    """Thread-safe map of tenants (customs codes) to their signing certificate and key."""

    def __init__(self, warn_days: int = EXPIRY_WARNING_DAYS) -> None:
        self._entries: dict[str, CertificateEntry] = {}
        self._lock = threading.Lock()
        self._warn = timedelta(days=warn_days)

    def register(
        self,
        customs_code: str,
        key: SigningKey,
        profile: str = DEFAULT_PROFILE,
        *,
        at: datetime | None = None,
    ) -> CertificateEntry:
        get_profile(profile)  # fail fast on a typo
        entry = CertificateEntry(customs_code, key, profile, certificate_info(key.certificate_der))
        with self._lock:
            self._entries[customs_code] = entry
        for warning in self.expiry_warnings(at=at, codes=[customs_code]):
            log.warning("signing %s", warning)
        return entry

    def get(self, customs_code: str) -> CertificateEntry:
        with self._lock:
            entry = self._entries.get(customs_code)
        if entry is None:
            raise SigningError(UNKNOWN_TENANT, f"no signing certificate registered for {customs_code}")
        return entry

    def entries(self) -> list[CertificateEntry]:
        with self._lock:
            return list(self._entries.values())

    def check(self, customs_code: str, document_cop_code: str | None, at: datetime | None = None) -> CertificateEntry:
        """The entry to sign with, or a :class:`SigningError` saying why signing is refused."""
        entry = self.get(customs_code)
        when = at or datetime.now(UTC)
        if entry.info.expired(when) or entry.info.not_yet_valid(when):
            raise SigningError(
                CERT_EXPIRED,
                f"certificate {entry.serial_hex} of {customs_code} is not valid at {when:%Y-%m-%d %H:%M}Z "
                f"(valid {entry.info.not_before:%Y-%m-%d} to {entry.info.not_after:%Y-%m-%d})",
            )
        if document_cop_code != customs_code:
            raise SigningError(
                HOLDER_MISMATCH,
                f"BaseTransfer/copCode {document_cop_code or '(missing)'} is not the certificate holder {customs_code}",
            )
        return entry

    def sign(self, customs_code: str, xml: bytes, *, profile: str | None = None, at: datetime | None = None) -> bytes:
        """Sign ``xml`` for tenant ``customs_code`` with its registered key and profile."""
        return self.sign_tree(customs_code, parse(xml), profile=profile, at=at)

    def sign_tree(
        self,
        customs_code: str,
        tree: etree._ElementTree,
        *,
        profile: str | None = None,
        at: datetime | None = None,
    ) -> bytes:
        root_kind(etree.QName(tree.getroot()).localname)  # a non-declaration is refused as such first
        entry = self.check(customs_code, cop_code(tree), at)
        return sign_tree(tree, entry.key, profile or entry.profile)

    def expiry_warnings(self, *, at: datetime | None = None, codes: Iterable[str] | None = None) -> list[ExpiryWarning]:
        """Certificates that expire within the warning window (30 days by default) or already have."""
        when = at or datetime.now(UTC)
        wanted = set(codes) if codes is not None else None
        out = []
        for entry in self.entries():
            if wanted is not None and entry.customs_code not in wanted:
                continue
            left = entry.expires_at - when
            if left <= self._warn:
                out.append(ExpiryWarning(entry.customs_code, entry.serial_hex, entry.expires_at, left.days))
        return sorted(out, key=lambda w: w.expires_at)

    def log_expiry_warnings(self, at: datetime | None = None) -> list[ExpiryWarning]:
        warnings = self.expiry_warnings(at=at)
        for warning in warnings:
            log.warning("signing %s", warning)
        return warnings
