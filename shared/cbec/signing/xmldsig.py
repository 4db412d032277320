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

from cbec.signing.certs import CertificateError, certificate_info
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
    """:func:`sign_document` on an already parsed document (which is modified in place)."""
    prof = get_profile(profile)
    root = tree.getroot()
    kind = root_kind(etree.QName(root).localname)
    for old in _root_signatures(root):
        _remove_keep_tail(old)
    digest = prof.digest(key.algorithm)
    digest_value = base64.b64encode(digest(_document_c14n(tree, prof.document_with_comments))).decode()

    sig = _insert_signature(root, kind, _template(prof, key))
    sig[0][2][2].text = digest_value  # SignedInfo/Reference/DigestValue
    signature_value = base64.b64encode(key.sign(_signed_bytes(prof, sig[0], digest_value))).decode()
    sig[1].text = signature_value  # SignatureValue
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


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
    if key_name_el is not None and (key_name_el.text or "").strip().lower() != info.serial_hex:
        return _fail("CBEC-SIG-KEYNAME", "KeyName does not match the certificate serial", *who)
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
        return VerifyResult(True, "signature valid", "OK", info.serial_hex, info.algorithm, prof.name)
    return last
