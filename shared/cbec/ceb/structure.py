"""Structural validation implemented in the product: what the XSD enforces, from the field tables.

``validate_structure(msg)`` checks presence, occurrence counts, string lengths (after whitespace
collapse where the XSD says so), ``xs:decimal`` totalDigits/fractionDigits (N19,5), ``xs:int``,
fixed values and the signature cardinality. With ``formats=True`` (the default) it also checks
what the spec states but the XSD leaves to free text: date/time formats (ceb-formats §1) and the
small code lists (appType, appStatus, ieFlag, ID types …). ``formats=False`` accepts exactly what
the official XSD accepts (the differential test holds it to that).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from typing import Any

from cbec.ceb.compiled import ANY, CHILD, CHILDREN, FIELD, FIELDS, SIGNATURE, CItem, CNode, root_for
from cbec.ceb.model import CebMessage
from cbec.ceb.spec import F
from cbec.errors import CebError

_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")
_INT = re.compile(r"[+-]?[0-9]+")
# Characters XML 1.0 cannot carry (lxml refuses to serialize them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1

# Business keys that name a document in error messages (first present wins).
_KEYS = (
    "orderNo",
    "logisticsNo",
    "copNo",
    "invtNo",
    "payTransactionId",
    "preNo",
    "sumNo",
    "payNo",
    "coElNo",
    "billNo",
    "taxNo",
    "rkdNo",
)


def _collapse(v: str) -> str:
    return " ".join(v.split())


def _check_decimal(v: str, f: F) -> str | None:
    m = _DECIMAL.fullmatch(v.strip(" \t\r\n"))
    if m is None or not (m.group(2) or m.group(3)):
        return f"{v!r} is not a decimal number"
    int_digits = m.group(2).lstrip("0")
    frac = (m.group(3) or "").rstrip("0")
    if f.fraction_digits is not None and len(frac) > f.fraction_digits:
        return f"{v!r} has more than {f.fraction_digits} decimal places"
    if f.total_digits is not None and len(int_digits) + len(frac) > f.total_digits:
        return f"{v!r} has more than {f.total_digits} digits"
    return None


def _check_int(v: str, f: F) -> str | None:
    s = v.strip(" \t\r\n")
    if _INT.fullmatch(s) is None:
        return f"{v!r} is not an integer"
    n = int(s)
    if not _INT_MIN <= n <= _INT_MAX:
        return f"{v!r} is out of the xs:int range"
    if f.total_digits is not None and len(s.lstrip("+-").lstrip("0")) > f.total_digits:
        return f"{v!r} has more than {f.total_digits} digits"
    return None


def _check_length(v: str, f: F) -> str | None:
    n = len(_collapse(v) if f.collapse else v)
    if f.min_len is not None and n < f.min_len:
        if f.min_len == f.max_len:
            return f"must be exactly {f.min_len} characters, got {n}"
        return f"must be at least {f.min_len} characters, got {n}"
    if f.max_len is not None and n > f.max_len:
        if f.min_len == f.max_len:
            return f"must be exactly {f.max_len} characters, got {n}"
        return f"must be at most {f.max_len} characters, got {n}"
    return None


def _field_error(v: str, f: F) -> tuple[str, str] | None:
    """(code, message) for the first XSD facet ``v`` breaks, else None."""
    if v == "" and (f.fixed is not None or f.default is not None):
        # XSD: an empty element with a fixed/default value takes that value.
        v = f.fixed if f.fixed is not None else f.default  # type: ignore[assignment]
    if _NOT_XML.search(v):
        return "CBEC-CHARS", "contains characters XML 1.0 cannot carry"
    if f.kind == "decimal":
        msg = _check_decimal(v, f)
        return None if msg is None else ("CBEC-DECIMAL", msg)
    if f.kind == "int":
        msg = _check_int(v, f)
        return None if msg is None else ("CBEC-INT", msg)
    msg = _check_length(v, f)
    if msg is not None:
        return "CBEC-LENGTH", msg
    if f.fixed is not None and (_collapse(v) if f.collapse else v) != f.fixed:
        return "CBEC-FIXED", f"must be {f.fixed!r}, got {v!r}"
    return None


# --- spec formats beyond the XSD (formats=True) -------------------------------------------------


class _Timestamp:
    """``yyyyMMdd[HHmmss[SSS]]``; ``quick`` accepts (in one C call) the values that are surely valid."""

    __slots__ = ("pattern", "quick", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        self.pattern = {8: "yyyyMMdd", 14: "yyyyMMddHHmmss", 17: "yyyyMMddHHmmssSSS"}[width]
        # Days 01-28 exist in every month; later days take the full check.
        time = "" if width == 8 else "(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]" + "[0-9]" * (width - 14)
        self.quick = re.compile(f"[0-9]{{4}}(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8]){time}").fullmatch

    def __call__(self, v: str) -> str | None:
        width, pattern = self.width, self.pattern
        if len(v) != width or not v.isdigit() or not v.isascii():
            return f"{v!r} is not a {pattern} timestamp"
        y, mo, d = int(v[:4]), int(v[4:6]), int(v[6:8])
        if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y or 1, mo)[1]):
            return f"{v!r} is not a valid date ({pattern})"
        if width > 8 and not (int(v[8:10]) < 24 and int(v[10:12]) < 60 and int(v[12:14]) < 60):
            return f"{v!r} is not a valid time ({pattern})"
        return None


class _OneOf:
    __slots__ = ("allowed", "text")

    def __init__(self, *values: str) -> None:
        self.allowed = frozenset(values)
        self.text = "/".join(values)

    def __call__(self, v: str) -> str | None:
        return None if v in self.allowed else f"{v!r} is not one of {self.text}"


def _return_status(v: str) -> str | None:
    return None if re.fullmatch(r"-?\d{1,9}", v) else f"{v!r} is not a receipt status code"


_TS14, _TS8, _TS17 = _Timestamp(14), _Timestamp(8), _Timestamp(17)
_FORMATS: dict[str, tuple[str, Callable[[str], str | None]]] = {
    **{
        n: ("CBEC-FORMAT", _TS14)
        for n in (
            "appTime",
            "payTime",
            "logisticsTime",
            "accountingDate",
            "leaveTime",
            "startTime",
            "endTime",
        )
    },
    **{n: ("CBEC-FORMAT", _TS8) for n in ("declTime", "ieDate")},
    **{n: ("CBEC-FORMAT", _TS17) for n in ("returnTime", "opDate")},
    "appType": ("CBEC-CODE", _OneOf("1", "2", "3")),
    "appStatus": ("CBEC-CODE", _OneOf("1", "2")),
    "ieFlag": ("CBEC-CODE", _OneOf("I", "E")),
    "buyerIdType": ("CBEC-CODE", _OneOf("1", "2")),
    "payerIdType": ("CBEC-CODE", _OneOf("1", "2")),
    "orderType": ("CBEC-CODE", _OneOf("I", "E", "B", "W")),
    "dxpMode": ("CBEC-CODE", _OneOf("DXP")),
    "status@BaseSubscribe": ("CBEC-CODE", _OneOf("ALL", "DATA", "RET")),
    "returnStatus": ("CBEC-CODE", _return_status),
}


def business_key(doc: dict[str, Any]) -> str:
    """``orderNo=…`` (or the first other key present) of a document, for error messages."""
    heads = [doc] + [v for v in doc.values() if isinstance(v, dict)]
    if "LogisticsHead" in doc:  # a waybill is known by its number, not its order's
        return business_key(doc["LogisticsHead"] | {"orderNo": None})
    for key in _KEYS:
        for head in heads:
            value = head.get(key)
            if isinstance(value, str) and value:
                return f"{key}={value}"
    return ""


def key_label(doc: dict[str, Any]) -> str:
    """:func:`business_key` as a finding shows it: one line (a key must not forge a line), at most 80 characters."""
    return " ".join(business_key(doc).split())[:80]


Check = Callable[[str], "tuple[str, str] | None"]
Fmt = Callable[[str], "str | None"]


def _quick_decimal(f: F) -> Callable[[str], object]:
    """Matches the plain decimals that surely fit ``f``'s digits (anything else takes the full check)."""
    frac = f.fraction_digits if f.fraction_digits is not None else 18
    whole = max(1, (f.total_digits if f.total_digits is not None else 18) - frac)
    return re.compile(rf"[0-9]{{1,{whole}}}(?:\.[0-9]{{0,{frac}}})?").fullmatch


def _compile_check(f: F) -> Check:
    """A fast checker for one field: common valid values leave through a cheap first test."""
    if f.fixed is None and f.default is None and not f.collapse:
        if f.kind == "str":
            lo = f.min_len or 0
            hi = f.max_len if f.max_len is not None else 1 << 62

            def check_str(v: str) -> tuple[str, str] | None:
                if lo <= len(v) <= hi and (v.isprintable() or not _NOT_XML.search(v)):
                    return None
                return _field_error(v, f)

            return check_str
        if f.kind == "decimal":
            quick = _quick_decimal(f)

            def check_decimal(v: str) -> tuple[str, str] | None:
                return None if quick(v) else _field_error(v, f)

            return check_decimal
        if f.kind == "int":
            width = min(f.total_digits or 9, 9)

            def check_int(v: str) -> tuple[str, str] | None:
                return None if (len(v) <= width and v.isdigit() and v.isascii()) else _field_error(v, f)

            return check_int
    return lambda v: _field_error(v, f)


def _format_for(f: F, node_name: str) -> tuple[str, Fmt] | None:
    return _FORMATS.get(f.name) or _FORMATS.get(f"{f.name}@{node_name}")


Accept = Callable[[str], object]


def _never(v: str) -> bool:
    return False


def _accept(f: F, check: Check, fmt: Fmt | None, lo: int, hi: int) -> Accept | None:
    """A cheap test (a C call where possible) that is true only for values ``_Walk.value`` accepts
    (XSD facets, and the spec format ``fmt`` when given); None for a plain string without format,
    whose length bounds the hot loop tests inline. A false answer means: take the full check."""
    if fmt is not None:
        if isinstance(fmt, _OneOf):
            return frozenset(a for a in fmt.allowed if a and check(a) is None).__contains__
        if isinstance(fmt, _Timestamp) and lo <= fmt.width <= hi:  # digits: printable, and in bounds
            return fmt.quick
        return _never
    if f.fixed is None and f.default is None and not f.collapse:
        if f.kind == "str":
            return None
        if f.kind == "decimal":
            return _quick_decimal(f)
        if f.kind == "int":
            return re.compile(f"[0-9]{{1,{min(f.total_digits or 9, 9)}}}").fullmatch
    if f.fixed is not None and check(f.fixed) is None:  # currency 142 …: the fixed value itself
        return frozenset({f.fixed}).__contains__
    return lambda v: check(v) is None


# One plan per node (and ``formats`` flag), built once on first use: per item (name, kind, item,
# fast accept, plain-string length bounds or -1, xsd check, spec-format check). The accept test
# and the bounds let the hot loop pass the common case (a valid value) without a Python call.
_Plan = list[tuple[str, int, CItem, "Accept | None", int, int, "Check | None", "tuple[str, Fmt] | None"]]
_PLANS: dict[tuple[int, bool], _Plan] = {}


def _plan(node: CNode, formats: bool) -> _Plan:
    plan = _PLANS.get((id(node), formats))
    if plan is None:
        plan = []
        for it in node.items:
            spec = it.spec
            if spec is not None and it.kind in (FIELD, FIELDS):
                fmt = _format_for(spec, node.name)
                plain = spec.kind == "str" and spec.fixed is None and spec.default is None and not spec.collapse
                lo = (spec.min_len or 0) if plain else -1
                hi = (spec.max_len if spec.max_len is not None else 1 << 62) if plain else -1
                check = _compile_check(spec)
                accept = _accept(spec, check, fmt[1] if fmt is not None and formats else None, lo, hi)
                plan.append((it.name, it.kind, it, accept, lo, hi, check, fmt))
            else:
                plan.append((it.name, it.kind, it, None, -1, -1, None, None))
        _PLANS[(id(node), formats)] = plan
    return plan


class _Walk:
    __slots__ = ("doc", "errors", "formats", "label", "suffix")

    def __init__(self, formats: bool) -> None:
        self.errors: list[CebError] = []
        self.formats = formats
        self.suffix = ""
        # The document being walked and its label: the suffix naming it is built on its first finding.
        self.doc: Any = None
        self.label = ""

    def at(self, doc: Any, label: str) -> None:
        self.doc, self.label, self.suffix = doc, label, ""

    def add(self, code: str, path: str, rule: str, message: str) -> None:
        if self.doc is not None:
            key = key_label(self.doc) if isinstance(self.doc, dict) else ""
            self.suffix = f" ({self.label} {key})" if key else ""
            self.doc = None
        self.errors.append(CebError(code, path, rule, message + self.suffix))

    def count(self, it: CItem, n: int, path: str) -> None:
        if n < it.min_occurs:
            self.add(
                "CBEC-REQUIRED",
                path,
                "XSD minOccurs",
                f"{it.name} is required"
                if it.min_occurs == 1
                else f"{it.name} needs at least {it.min_occurs} occurrences, got {n}",
            )
        elif it.max_occurs != -1 and n > it.max_occurs:
            self.add("CBEC-COUNT", path, "XSD maxOccurs", f"{it.name} allows at most {it.max_occurs}, got {n}")

    def value(self, v: Any, check: Check, fmt: tuple[str, Fmt] | None, it: CItem, path: str) -> None:
        if type(v) is not str:
            self.add("CBEC-TYPE", path, "model", f"value must be a string, got {type(v).__name__}")
            return
        err = check(v)
        if err is not None:
            self.add(err[0], path, "XSD facet", err[1])
        elif fmt is not None and self.formats and (v != "" or it.min_occurs):
            msg = fmt[1](v)
            if msg is not None:
                self.add(fmt[0], path, "spec format", msg)

    def node(self, data: Any, node: CNode, path: str) -> None:
        if not isinstance(data, dict):
            self.add("CBEC-TYPE", path, "model", f"{node.name} must be a dict, got {type(data).__name__}")
            return
        seen = 0
        for name, kind, it, accept, lo, hi, check, fmt in _plan(node, self.formats):
            v = data.get(name)
            if v is None:
                if it.min_occurs:
                    self.add("CBEC-REQUIRED", f"{path}.{name}", "XSD minOccurs", f"{name} is required")
                continue
            seen += 1
            if kind == FIELD:
                if type(v) is str and ((lo <= len(v) <= hi and v.isprintable()) if accept is None else accept(v)):
                    continue
                self.value(v, check, fmt, it, f"{path}.{it.name}")  # type: ignore[arg-type]
            elif kind == CHILD:
                self.node(v, it.node, f"{path}.{it.name}")  # type: ignore[arg-type]
            elif kind == CHILDREN or kind == FIELDS:
                p = f"{path}.{it.name}"
                if not isinstance(v, list):
                    self.add("CBEC-TYPE", p, "model", f"{it.name} must be a list")
                    continue
                self.count(it, len(v), p)
                for i, sub in enumerate(v, 1):
                    if kind == CHILDREN:
                        self.node(sub, it.node, f"{p}[{i}]")  # type: ignore[arg-type]
                    else:
                        self.value(sub, check, fmt, it, f"{p}[{i}]")  # type: ignore[arg-type]
            elif kind == ANY and type(v) is not str:
                self.add("CBEC-TYPE", f"{path}.{it.name}", "model", "ExtendMessage.Message must be serialized XML text")
        if seen != len(data):
            by_name = node.by_name
            for key in data:
                if key not in by_name:
                    self.add("CBEC-UNEXPECTED", f"{path}.{key}", "XSD content", f"{key} is not declared in {node.name}")


def validate_structure(msg: CebMessage, *, formats: bool = True, before_signing: bool = False) -> list[CebError]:
    """Every structural finding in ``msg`` (empty when it would pass the official XSD).

    ``before_signing=True`` skips the signature-presence check (621/623/625/711) for a message
    that is validated before the signer adds ds:Signature.
    """
    try:
        croot = root_for(msg.type)
    except KeyError:
        return [CebError("CBEC-ROOT", "/", "XSD root", f"unknown message type {msg.type!r}")]
    w = _Walk(formats)
    if len(msg.guid) != 36:
        w.add("CBEC-LENGTH", "@guid", "XSD facet", f"must be exactly 36 characters, got {len(msg.guid)}")
    if not 1 <= len(msg.version) <= 10:
        w.add("CBEC-LENGTH", "@version", "XSD facet", "must be 1..10 characters")
    doc_item = croot.doc
    w.count(doc_item, len(msg.docs), doc_item.name)
    for i, doc in enumerate(msg.docs, 1):
        label = f"{doc_item.name}[{i}]"
        w.at(doc, label)
        w.node(doc, doc_item.node, label)  # type: ignore[arg-type]
    w.at(None, "")
    by_name = croot.node.by_name
    if croot.is_declaration:
        if msg.base_transfer is None:
            w.add("CBEC-REQUIRED", "BaseTransfer", "XSD minOccurs", "BaseTransfer is required")
        else:
            w.node(msg.base_transfer, by_name["BaseTransfer"].node, "BaseTransfer")  # type: ignore[arg-type]
        w.count(by_name["BaseSubscribe"], len(msg.base_subscribe), "BaseSubscribe")
        for i, sub in enumerate(msg.base_subscribe, 1):
            w.node(sub, by_name["BaseSubscribe"].node, f"BaseSubscribe[{i}]")  # type: ignore[arg-type]
        if msg.extend_message is not None:
            w.node(msg.extend_message, by_name["ExtendMessage"].node, "ExtendMessage")  # type: ignore[arg-type]
    elif msg.base_transfer or msg.base_subscribe or msg.extend_message:
        w.add("CBEC-UNEXPECTED", "BaseTransfer", "XSD content", f"{croot.name} carries no BaseTransfer")
    sig = by_name.get("Signature")
    if sig is not None and sig.kind == SIGNATURE:
        if sig.min_occurs and msg.signature is None and not before_signing:
            w.add("CBEC-SIGNATURE", "Signature", "XSD minOccurs", f"{croot.name} requires ds:Signature")
    elif msg.signature is not None:
        w.add("CBEC-UNEXPECTED", "Signature", "XSD content", f"{croot.name} carries no signature")
    return w.errors
