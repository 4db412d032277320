"""Enveloped XML-DSig for CEB messages: hand-built SignedInfo over lxml inclusive C14N.

The ``ds:Signature`` goes where the XSD sequence wants it: import roots end with
``… BaseTransfer, BaseSubscribe*, ExtendMessage?, ds:Signature``; export roots have
``… BaseTransfer, BaseSubscribe*, ds:Signature?, ExtendMessage?``. The Signature element is inserted
with no tail text, so removing it (the enveloped-signature transform) restores the signed bytes.
"""

from __future__ import annotations

import base64
import binascii
import copy
import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from cbec.signing.certs import CertificateError, certificate_info, serial_from_key_name
from cbec.signing.keys import Algorithm, SigningKey, verify_signature
from cbec.signing.profiles import (
    C14N,
    C14N_WITH_COMMENTS,
    DEFAULT_PROFILE,
    DS_NS,
    ENVELOPED,
    PROFILES,
    SigningProfile,
    get_profile,
)

CEB_NS = "http://www.chinaport.gov.cn/ceb"
_SIG = f"{{{DS_NS}}}Signature"

IMPORT_ROOTS: frozenset[str] = frozenset(f"CEB{n}Message" for n in (311, 411, 511, 513, 621, 623, 625, 711))
EXPORT_ROOTS: frozenset[str] = frozenset(
    f"CEB{n}Message" for n in (213, 215, 303, 403, 505, 507, 509, 603, 605, 607, 701, 792)
)
_BEFORE_SIGNATURE_IMPORT = frozenset(f"{{{CEB_NS}}}{t}" for t in ("BaseTransfer", "BaseSubscribe", "ExtendMessage"))
_BEFORE_SIGNATURE_EXPORT = frozenset(f"{{{CEB_NS}}}{t}" for t in ("BaseTransfer", "BaseSubscribe"))

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


class SigningError(ValueError):
    """The document cannot be signed as asked; ``code`` is a ``CBEC-SIG-…`` code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    reason: str
    code: str
    serial_hex: str | None = None
    algorithm: Algorithm | None = None
    profile: str | None = None


def parse(xml: bytes) -> etree._ElementTree:
    """Parse without network access or external entities; keeps top-level comments and PIs."""
    try:
        return etree.fromstring(xml, _PARSER).getroottree()
    except etree.XMLSyntaxError as exc:
        raise SigningError("CBEC-SIG-XML", f"not well-formed XML: {exc}") from exc


def root_kind(root_local_name: str) -> str:
    """``"import"`` or ``"export"`` for a signable CEB root; raises for anything else."""
    if root_local_name in IMPORT_ROOTS:
        return "import"
    if root_local_name in EXPORT_ROOTS:
        return "export"
    raise SigningError("CBEC-SIG-ROOT", f"{root_local_name} is not a signable CEB declaration root")


def _remove_keep_tail(el: etree._Element) -> None:
    """Remove ``el`` but keep its tail text, as a DOM removal of the element node would."""
    parent = el.getparent()
    assert parent is not None
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _root_signatures(root: etree._Element) -> list[etree._Element]:
    return [child for child in root if child.tag == _SIG]


def _document_c14n(tree: etree._ElementTree, with_comments: bool) -> bytes:
    return etree.tostring(tree, method="c14n", exclusive=False, with_comments=with_comments)


def _insert_signature(root: etree._Element, kind: str, sig: etree._Element) -> etree._Element:
    anchors = _BEFORE_SIGNATURE_IMPORT if kind == "import" else _BEFORE_SIGNATURE_EXPORT
    index = len(root)
    last = None
    for i, child in enumerate(root):
        if child.tag in anchors:
            last = i
    if last is not None:
        index = last + 1
    elif kind == "export":
        ext = root.find(f"{{{CEB_NS}}}ExtendMessage")
        index = root.index(ext) if ext is not None else len(root)
    root.insert(index, sig)
    return sig


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{DS_NS}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def sign_document(xml: bytes, key: SigningKey, profile: str = DEFAULT_PROFILE) -> bytes:
    """Sign a CEB declaration with an enveloped ``ds:Signature``; returns UTF-8 XML with declaration.

    An existing root-level ``ds:Signature`` is replaced.
    """
    return sign_tree(parse(xml), key, profile)


def sign_tree(tree: etree._ElementTree, key: SigningKey, profile: str = DEFAULT_PROFILE) -> bytes:
    """:func:`sign_document` on an already parsed document (which is modified in place).

    The returned bytes are the ones to transmit, and they are verified before they are returned
    (:func:`check_outbound`): output that would not verify is a :class:`SigningError`
    (``CBEC-SIG-SELFCHECK``), never returned.
    """
    out, sent = _sign(tree, key, get_profile(profile))
    check_outbound(out, sent, check_value=_VALUE_CHECKS.due(sent))
    return out


@dataclass(frozen=True, slots=True)
class Sent:
    """What the signer canonicalised and wrote; the outbound bytes must carry exactly this."""

    profile: SigningProfile
    algorithm: Algorithm
    certificate_der: bytes
    certificate_text: str
    key_name: str
    document_c14n: bytes
    signed_input: bytes
    signature: bytes
    signature_text: str


def _sign(tree: etree._ElementTree, key: SigningKey, prof: SigningProfile) -> tuple[bytes, Sent]:
    """Sign in place and serialise once; the bytes returned are the document to transmit."""
    root = tree.getroot()
    kind = root_kind(etree.QName(root).localname)
    for old in _root_signatures(root):
        _remove_keep_tail(old)
    document = _document_c14n(tree, prof.document_with_comments)
    digest_value = base64.b64encode(prof.digest(key.algorithm)(document)).decode()

    sig = _insert_signature(root, kind, _template(prof, key))
    sig[0][2][2].text = digest_value  # SignedInfo/Reference/DigestValue
    signed_input = _signed_bytes(prof, sig[0], digest_value)
    signature = key.sign(signed_input)
    signature_text = sig[1].text = base64.b64encode(signature).decode()  # SignatureValue
    out = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    certificate_text = sig[2][1][0].text or ""  # KeyInfo/X509Data/X509Certificate
    sent = Sent(
        prof,
        key.algorithm,
        key.certificate_der,
        certificate_text,
        key.serial_hex,
        document,
        signed_input,
        signature,
        signature_text,
    )
    return out, sent


SELF_CHECK = "CBEC-SIG-SELFCHECK"


class _ValueChecks:
    """When the signature value itself is verified before output (see :func:`check_outbound`).

    RSA verification is cheap (~20 µs) and always done. SM2 verification costs as much as signing
    (~350 µs, it would halve the signer's throughput), so it is done on the first signature of each
    certificate in the process and then on every ``every``-th: a key that does not match its
    certificate, a wrong SM2 user id or an HSM that silently signs ECDSA is systematic and is
    caught on the first message. A software key is checked against its certificate when loaded.
    """

    def __init__(self, every: int = 64) -> None:
        self._every = every
        self._counts: dict[bytes, int] = {}
        self._lock = threading.Lock()

    def due(self, sent: Sent) -> bool:
        if sent.algorithm == "RSA":
            return True
        with self._lock:
            n = self._counts.get(sent.certificate_der, 0)
            if len(self._counts) > 4096:
                self._counts.clear()
            self._counts[sent.certificate_der] = n + 1
        return n % self._every == 0


_VALUE_CHECKS = _ValueChecks()


def check_outbound(out: bytes, sent: Sent, *, check_value: bool = True) -> None:
    """Verify ``out``, the exact bytes to transmit, against what was signed; raise if they differ.

    Re-parses the bytes (nothing shared with the signing tree) and checks that the canonical
    document without its signature is the one digested, that the signed input (canonical SignedInfo
    or the DigestValue text) is byte for byte the one the key signed, and that SignatureValue, KeyName
    and certificate are the ones written: so any serialisation that changes what a verifier sees is
    caught. With ``check_value`` the signature value is verified with the certificate's public key too.
    """

    def refuse(what: str) -> SigningError:
        return SigningError(SELF_CHECK, f"signed output does not verify ({what}); nothing was sent")

    try:
        tree = parse(out)
    except SigningError as exc:
        raise refuse(str(exc)) from None
    sigs = _root_signatures(tree.getroot())
    if len(sigs) != 1:
        raise refuse(f"{len(sigs)} ds:Signature elements under the root")
    sig = sigs[0]
    prof = sent.profile
    if prof.signed_input == "digest_value":
        signed_input = (sig.findtext(_DIGEST_VALUE) or "").encode("ascii")
    else:
        signed_info = sig.find(f"{{{DS_NS}}}SignedInfo")
        if signed_info is None:
            raise refuse("no SignedInfo")
        signed_input = etree.tostring(signed_info, method="c14n", exclusive=False, with_comments=False)
    if signed_input != sent.signed_input:
        raise refuse("the signed input changed in serialisation")
    if sig.findtext(_KEY_NAME) != sent.key_name:
        raise refuse("KeyName changed in serialisation")
    # Compared as the text written (equal text, equal bytes; base64 decoding would cost more).
    if sig.findtext(_CERTIFICATE) != sent.certificate_text:
        raise refuse("X509Certificate changed in serialisation")
    if sig.findtext(f"{{{DS_NS}}}SignatureValue") != sent.signature_text:
        raise refuse("SignatureValue changed in serialisation")
    _remove_keep_tail(sig)
    # The digest is a function of these bytes: equal bytes, equal DigestValue (no need to rehash).
    if _document_c14n(tree, prof.document_with_comments) != sent.document_c14n:
        raise refuse("the document changed in serialisation: its digest no longer matches")
    if check_value and not verify_signature(sent.algorithm, sent.certificate_der, sent.signed_input, sent.signature):
        raise refuse("SignatureValue does not verify with the certificate: the key does not match it")


_CERTIFICATE = f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}X509Data/{{{DS_NS}}}X509Certificate"
_DIGEST_VALUE = f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference/{{{DS_NS}}}DigestValue"
_KEY_NAME = f"{{{DS_NS}}}KeyInfo/{{{DS_NS}}}KeyName"


_TEMPLATES = threading.local()  # lxml trees are not shared between threads


def _template(prof: SigningProfile, key: SigningKey) -> etree._Element:
    """A copy of the Signature skeleton for this profile and key (all but the two values filled in)."""
    cache: dict[tuple[str, str, bytes], etree._Element] = _TEMPLATES.__dict__.setdefault("cache", {})
    ident = (prof.name, key.algorithm, key.certificate_der)
    template = cache.get(ident)
    if template is None:
        template = etree.Element(_SIG, nsmap={"ds": DS_NS})
        signed_info = _sub(template, "SignedInfo")
        _sub(signed_info, "CanonicalizationMethod", Algorithm=prof.canonicalization_uri)
        _sub(signed_info, "SignatureMethod", Algorithm=prof.signature_uris[key.algorithm])
        ref = _sub(signed_info, "Reference", URI="")
        _sub(_sub(ref, "Transforms"), "Transform", Algorithm=ENVELOPED)
        _sub(ref, "DigestMethod", Algorithm=prof.digest_uris[key.algorithm])
        _sub(ref, "DigestValue", "")
        _sub(template, "SignatureValue", "")
        key_info = _sub(template, "KeyInfo")
        _sub(key_info, "KeyName", key.serial_hex)
        _sub(_sub(key_info, "X509Data"), "X509Certificate", base64.b64encode(key.certificate_der).decode())
        if len(cache) > 256:
            cache.clear()
        cache[ident] = template
    return copy.deepcopy(template)


def cop_code(tree: etree._ElementTree) -> str | None:
    """``BaseTransfer/copCode`` of a declaration: the enterprise that transmits (and must sign) it."""
    value = tree.getroot().findtext(f"{{{CEB_NS}}}BaseTransfer/{{{CEB_NS}}}copCode")
    return value.strip() if value is not None else None


def _signed_bytes(prof: SigningProfile, signed_info: etree._Element, digest_value: str) -> bytes:
    if prof.signed_input == "digest_value":
        return digest_value.encode("ascii")
    # Inclusive C14N of SignedInfo in document context carries the inherited xmlns declarations.
    return etree.tostring(signed_info, method="c14n", exclusive=False, with_comments=False)


def strip_signature(xml: bytes) -> bytes:
    """The document with its root-level ``ds:Signature`` elements removed (tails kept)."""
    tree = parse(xml)
    for old in _root_signatures(tree.getroot()):
        _remove_keep_tail(old)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _fail(code: str, reason: str, serial_hex: str | None = None, algorithm: Algorithm | None = None) -> VerifyResult:
    return VerifyResult(False, reason, code, serial_hex, algorithm)


def _ds(el: etree._Element, path: str) -> etree._Element | None:
    return el.find(path.replace("ds:", f"{{{DS_NS}}}"))


def _b64(text: str | None) -> bytes:
    return base64.b64decode("".join((text or "").split()), validate=True)


def _candidate_profiles(profile: str | None, c14n_uri: str, sig_uri: str, digest_uri: str) -> list[SigningProfile]:
    if profile is not None:
        return [get_profile(profile)]
    return [
        p
        for p in PROFILES.values()
        if p.canonicalization_uri == c14n_uri
        and (alg := p.algorithm_for(sig_uri)) is not None
        and p.digest_uris[alg] == digest_uri
    ]


def verify_document(
    xml: bytes,
    *,
    profile: str | None = None,
    trusted: Collection[bytes] | None = None,
    at: datetime | None = None,
) -> VerifyResult:
    """Verify the enveloped signature with the embedded certificate.

    ``profile=None`` infers the profile from the algorithm URIs. ``trusted`` (certificate DERs),
    when given, must contain the embedded certificate. The certificate must be valid at ``at``
    (default: now).
    """
    try:
        tree = parse(xml)
    except SigningError as exc:
        return _fail(exc.code, str(exc))
    root = tree.getroot()
    sigs = _root_signatures(root)
    if not sigs:
        return _fail("CBEC-SIG-MISSING", "document has no ds:Signature under the root")
    if len(sigs) > 1:
        return _fail("CBEC-SIG-MALFORMED", "document has more than one ds:Signature under the root")
    sig = sigs[0]
    signed_info = _ds(sig, "ds:SignedInfo")
    c14n_el = _ds(sig, "ds:SignedInfo/ds:CanonicalizationMethod")
    method_el = _ds(sig, "ds:SignedInfo/ds:SignatureMethod")
    refs = sig.findall(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    value_el = _ds(sig, "ds:SignatureValue")
    cert_el = _ds(sig, "ds:KeyInfo/ds:X509Data/ds:X509Certificate")
    key_name_el = _ds(sig, "ds:KeyInfo/ds:KeyName")
    if signed_info is None or c14n_el is None or method_el is None or value_el is None or len(refs) != 1:
        return _fail(
            "CBEC-SIG-MALFORMED",
            "ds:Signature lacks SignedInfo, its methods, one Reference or SignatureValue",
        )
    ref = refs[0]
    if ref.get("URI") != "":
        return _fail("CBEC-SIG-MALFORMED", 'the Reference must have URI="" (whole document)')
    transforms = [t.get("Algorithm") for t in ref.findall(f"{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform")]
    if transforms not in ([ENVELOPED], [ENVELOPED, C14N], [ENVELOPED, C14N_WITH_COMMENTS]):
        return _fail("CBEC-SIG-MALFORMED", f"unsupported Reference transforms {transforms}")
    digest_method = _ds(ref, "ds:DigestMethod")
    digest_value_el = _ds(ref, "ds:DigestValue")
    if digest_method is None or digest_value_el is None:
        return _fail("CBEC-SIG-MALFORMED", "the Reference lacks DigestMethod or DigestValue")
    if cert_el is None:
        return _fail("CBEC-SIG-NO-CERT", "ds:KeyInfo carries no X509Certificate")

    try:
        cert_der = _b64(cert_el.text)
        info = certificate_info(cert_der)
    except (binascii.Error, ValueError, CertificateError) as exc:
        return _fail("CBEC-SIG-CERT", f"embedded certificate is unreadable: {exc}")
    who = (info.serial_hex, info.algorithm)
    if trusted is not None and cert_der not in trusted:
        return _fail("CBEC-SIG-CERT-UNTRUSTED", "certificate is not trusted", *who)
    when = at or datetime.now(UTC)
    if info.expired(when) or info.not_yet_valid(when):
        return _fail("CBEC-SIG-CERT-EXPIRED", f"certificate is not valid at {when:%Y-%m-%dT%H:%M:%SZ}", *who)

    candidates = _candidate_profiles(
        profile,
        c14n_el.get("Algorithm", ""),
        method_el.get("Algorithm", ""),
        digest_method.get("Algorithm", ""),
    )
    if not candidates:
        return _fail("CBEC-SIG-ALGORITHM", "algorithm URIs match no known signing profile", *who)
    try:
        signature = _b64(value_el.text)
        stated_digest = _b64(digest_value_el.text)
    except (binascii.Error, ValueError):
        return _fail("CBEC-SIG-MALFORMED", "SignatureValue or DigestValue is not base64", *who)
    signed_info_c14n = etree.tostring(signed_info, method="c14n", exclusive=False, with_comments=False)
    digest_value_text = (digest_value_el.text or "").strip()

    _remove_keep_tail(sig)  # the enveloped-signature transform
    docs: dict[bool, bytes] = {}
    last = _fail("CBEC-SIG-ALGORITHM", "no profile matched", *who)
    for prof in candidates:
        algorithm = prof.algorithm_for(method_el.get("Algorithm", ""))
        if algorithm is None or prof.canonicalization_uri != c14n_el.get("Algorithm"):
            last = _fail("CBEC-SIG-ALGORITHM", f"algorithm URIs do not match profile {prof.name}", *who)
            continue
        if prof.digest_uris[algorithm] != digest_method.get("Algorithm"):
            last = _fail("CBEC-SIG-ALGORITHM", f"DigestMethod does not match profile {prof.name}", *who)
            continue
        if algorithm != info.algorithm:
            last = _fail("CBEC-SIG-ALGORITHM", f"{algorithm} signature but an {info.algorithm} certificate", *who)
            continue
        with_comments = prof.document_with_comments
        if with_comments not in docs:
            docs[with_comments] = _document_c14n(tree, with_comments)
        if prof.digest(algorithm)(docs[with_comments]) != stated_digest:
            last = _fail("CBEC-SIG-DIGEST", "document digest does not match DigestValue (content changed)", *who)
            continue
        data = digest_value_text.encode("ascii") if prof.signed_input == "digest_value" else signed_info_c14n
        if not verify_signature(algorithm, cert_der, data, signature):
            last = _fail("CBEC-SIG-INVALID", "SignatureValue does not verify with the embedded certificate", *who)
            continue
        if key_name_el is not None and (finding := key_name_finding(key_name_el.text, info.serial_hex)):
            return VerifyResult(False, finding[1], finding[0], info.serial_hex, info.algorithm, prof.name)
        return VerifyResult(True, "signature valid", "OK", info.serial_hex, info.algorithm, prof.name)
    return last


KEYNAME_LEGACY = "CBEC-SIG-KEYNAME-LEGACY"
KEYNAME_MISMATCH = "CBEC-SIG-KEYNAME"


def key_name_finding(text: str | None, serial_hex: str) -> tuple[str, str] | None:
    """Why a ``KeyName`` does not name the certificate (serial ``serial_hex``), or ``None`` if it does.

    Serials compare as numbers, so ``1691FE9``, ``01691fe9`` and ``001691fe9`` all name
    ``01691fe9``. Checked only once the digest and signature value verified, so the finding says
    that content and signature are good and only the KeyName is wrong. It is an error: SPEC18 §6
    requires ``KeyName`` to hold the certificate serial (ceb-formats §5.1). Placeholders of up to
    four hex digits (``0001``, as in the 2022 samples and pre-2022 clients) or non-hex text get
    ``CBEC-SIG-KEYNAME-LEGACY``; a longer hex number (another certificate's serial) gets
    ``CBEC-SIG-KEYNAME``.
    """
    named = serial_from_key_name(text)
    if named is not None and named == int(serial_hex, 16):
        return None
    shown = (text or "").strip()[:40]
    if named is None or len(shown) <= 4:
        return KEYNAME_LEGACY, (
            f"digest and signature valid, but KeyName {shown!r} is an old-style placeholder, not the "
            f"certificate serial {serial_hex} (the E-Port writes the serial since 2022)"
        )
    return KEYNAME_MISMATCH, (
        f"digest and signature valid, but KeyName {shown} names another certificate than the embedded "
        f"one (serial {serial_hex})"
    )
