"""Differential property test: the product's structural layer against the official XSDs.

For every root of both XSDs, hypothesis draws a valid model from the field tables, then changes
one field (a random or boundary value, or removes it). Whatever the change, the product
(``validate_structure(formats=False)``) and the XSD must agree on valid/invalid, and when both
reject, both must name that field. Valid models must always build XSD-valid XML.
A third property damages the built bytes at random: parse then either succeeds or raises a
CebValidationError, never anything else. Fixed seeds; 2,200 examples in total; about 15 s.
"""

from __future__ import annotations

import re
import string
from typing import Any

import cbec_testkit.samples.messages as ex
from cbec.ceb.codec import build, parse
from cbec.ceb.compiled import CHILD, CHILDREN, FIELD, FIELDS, CNode, all_types, root_for
from cbec.ceb.model import CebMessage
from cbec.ceb.spec import F
from cbec.ceb.structure import validate_structure
from cbec.ceb.xsd import xsd_errors
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TYPES = all_types()
SAFE = string.ascii_uppercase + string.digits + "中文-"


def _decimal(draw: st.DrawFn, f: F) -> str:
    frac_max = f.fraction_digits if f.fraction_digits is not None else 5
    total = f.total_digits if f.total_digits is not None else 19
    frac_n = draw(st.integers(0, min(frac_max, total)))
    int_n = draw(st.integers(1, max(1, total - frac_n)))
    int_part = draw(st.text("0123456789", min_size=int_n, max_size=int_n))
    frac = draw(st.text("0123456789", min_size=frac_n, max_size=frac_n))
    return int_part + ("." + frac if frac else "")


def valid_value(draw: st.DrawFn, f: F) -> str:
    if f.fixed is not None:
        return f.fixed
    if f.kind == "decimal":
        return _decimal(draw, f)
    if f.kind == "int":
        digits = min(f.total_digits or 9, 9)
        return str(draw(st.integers(0, 10**digits - 1)))
    if f.kind == "any":
        return ""
    lo = f.min_len or 0
    hi = max(lo, min(f.max_len if f.max_len is not None else 12, 12))
    return draw(st.text(SAFE, min_size=lo, max_size=hi))


def valid_node(draw: st.DrawFn, node: CNode) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for it in node.items:
        if it.min_occurs == 0 and not draw(st.booleans()):
            continue
        if it.kind == FIELD:
            data[it.name] = valid_value(draw, it.facets)
        elif it.kind == FIELDS:
            data[it.name] = [valid_value(draw, it.facets) for _ in range(max(1, it.min_occurs))]
        elif it.kind == CHILD:
            data[it.name] = valid_node(draw, it.sub)
        elif it.kind == CHILDREN:
            n = draw(st.integers(max(1, it.min_occurs), 2 if it.max_occurs == -1 else min(2, it.max_occurs)))
            data[it.name] = [valid_node(draw, it.sub) for _ in range(n)]
    return data


@st.composite
def valid_messages(draw: st.DrawFn, mtype: str | None = None) -> CebMessage:
    croot = root_for(mtype or draw(st.sampled_from(TYPES)))
    most = 2 if croot.doc.max_occurs == -1 else min(2, croot.doc.max_occurs)
    docs = [valid_node(draw, croot.doc.sub) for _ in range(draw(st.integers(1, most)))]
    msg = CebMessage(type=croot.type, docs=docs, guid=ex.GUID)
    if croot.is_declaration:
        msg.base_transfer = valid_node(draw, croot.node.by_name["BaseTransfer"].sub)
        if draw(st.booleans()):
            msg.base_subscribe = [valid_node(draw, croot.node.by_name["BaseSubscribe"].sub)]
    sig = croot.node.by_name.get("Signature")
    if sig is not None and (sig.min_occurs or draw(st.booleans())):
        msg.signature = ex.PLACEHOLDER_SIGNATURE
    return msg


def _fields(data: dict[str, Any], node: CNode, path: str) -> list[tuple[dict[str, Any], F, str]]:
    """Every (holder dict, field spec, path) under ``node``, present or not."""
    out: list[tuple[dict[str, Any], F, str]] = []
    for it in node.items:
        if it.kind == FIELD:
            out.append((data, it.facets, f"{path}.{it.name}"))
        elif it.kind == CHILD and it.name in data:
            out += _fields(data[it.name], it.sub, f"{path}.{it.name}")
        elif it.kind == CHILDREN and it.name in data:
            for i, sub in enumerate(data[it.name], 1):
                out += _fields(sub, it.sub, f"{path}.{it.name}[{i}]")
    return out


def mutated_value(draw: st.DrawFn, f: F) -> str | None:
    """A value near or across the field's facets; None means: remove the field."""
    hi = f.max_len if f.max_len is not None else 30
    lo = f.min_len or 0
    choices = ["drop", "random", "boundary", "numeric", "blank"] + (["fixed"] * 3 if f.fixed else [])
    choice = draw(st.sampled_from(choices))
    if choice == "drop":
        return None
    if choice == "fixed":
        return draw(st.sampled_from([f"{f.fixed} ", f" {f.fixed}", f"{f.fixed}0", "000", "", "1 4 2"]))
    if choice == "random":
        return draw(st.text(SAFE + " .+\t", max_size=min(hi + 2, 40)))
    if choice == "boundary":
        n = draw(st.sampled_from([max(lo - 1, 0), lo, hi, hi + 1]))
        return draw(st.sampled_from(["9", "中", "A"])) * n
    if choice == "blank":
        return draw(st.sampled_from(["", " ", "  1 ", " 0.5"]))
    int_n = draw(st.one_of(st.integers(0, 3), st.integers(8, 21)))
    frac_n = draw(st.integers(0, 7))
    sign = draw(st.sampled_from(["", "-", "+"]))
    digits = draw(st.text("0123456789", min_size=int_n, max_size=int_n))
    frac = draw(st.text("0123456789", min_size=frac_n, max_size=frac_n))
    dot = draw(st.sampled_from(["", "."])) if frac_n == 0 else "."
    pad = draw(st.sampled_from(["", "", "00", " "]))  # leading zeros / whitespace, also as trailing
    return pad + sign + digits + dot + frac + (pad if pad != "00" or dot else "")


def _xsd_names(errors: list[str]) -> set[str]:
    return set(re.findall(r"\{http://www\.chinaport\.gov\.cn/ceb\}(\w+)", " ".join(errors)))


def _leaf(path: str) -> str:
    return re.sub(r"\[\d+\]$", "", path.rsplit(".", 1)[-1])


def _kind(msg: CebMessage) -> Any:
    return root_for(msg.type).kind


@seed(20220501)
@SETTINGS
@given(valid_messages())
def test_valid_models_always_build_xsd_valid_xml_and_round_trip(msg: CebMessage) -> None:
    assert validate_structure(msg, formats=False) == []
    xml = build(msg)
    assert xsd_errors(xml, _kind(msg)) == []
    assert parse(xml) == msg


@seed(20220502)
@settings(SETTINGS, max_examples=1500)
@given(st.data())
def test_product_and_xsd_agree_on_every_single_field_change(data: st.DataObject) -> None:
    msg = data.draw(valid_messages())
    groups: dict[str, list[tuple[dict[str, Any], F, str]]] = {}
    croot = root_for(msg.type)
    entries = _fields(msg.docs[0], croot.doc.sub, "D")
    if msg.base_transfer is not None:
        entries += _fields(msg.base_transfer, croot.node.by_name["BaseTransfer"].sub, "BaseTransfer")
    for entry in entries:
        spec = entry[1]
        group = "fixed" if spec.fixed else ("numeric" if spec.kind in ("decimal", "int") else "text")
        groups.setdefault(group, []).append(entry)
    # Pick the kind of field first: fixed and numeric fields are few but have the subtle facets.
    group = data.draw(st.sampled_from(sorted(groups)))
    holder, f, path = data.draw(st.sampled_from(groups[group]))
    value = data.draw(st.composite(lambda draw: mutated_value(draw, f))())
    if value is None:
        holder.pop(f.name, None)
    else:
        holder[f.name] = value
    product = validate_structure(msg, formats=False)
    xsd = xsd_errors(build(msg), _kind(msg))
    event(f"{f.kind}: " + (",".join(sorted({e.code for e in product})) or "valid"))
    assert (product == []) == (xsd == []), (f.name, value, [str(e) for e in product], xsd)
    if product:
        assert f.name in {_leaf(e.path) for e in product}
        assert f.name in _xsd_names(xsd)


@seed(20220503)
@settings(SETTINGS, max_examples=300)
@given(st.data())
def test_parse_of_damaged_bytes_either_succeeds_or_raises_a_ceb_validation_error(data: st.DataObject) -> None:
    from cbec.errors import CebValidationError

    xml = bytearray(build(data.draw(valid_messages())))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(xml) - 1))
        choice = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if choice == "flip":
            xml[at] = data.draw(st.sampled_from(b"<>/&\"'=x:\x00 !"))
        elif choice == "cut":
            del xml[at : at + data.draw(st.integers(1, 20))]
        else:
            xml[at:at] = data.draw(st.sampled_from([b"<!DOCTYPE x>", b"<x/>", b"&e;", b"<![CDATA[a]]>", b"\xff"]))
    try:
        msg = parse(bytes(xml), strict=data.draw(st.booleans()))
    except CebValidationError as err:
        assert err.errors and all(e.code and e.message for e in err.errors)
    else:
        assert msg.type in TYPES
