"""The compiled schema validator (jsonschema-rs) decides validity on the hot path; the pure-Python one
explains refusals. Over real commands and thousands of hostile variants of them the two agree, and
where they do not, the message is refused with a finding (the stricter one wins)."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from cbec.contracts.schema_check import errors_of, fast_validator, is_valid, validator
from cbec_testkit.samples import SITE_OPERATOR, declare_clearance, entry_document

ODD_VALUES: list[Any] = ["", " ", "x" * 300, "１２３４５６７８９０", "3105960001\n", "3105960001\x00", 0, -1, 1.5,
                         10**30, True, None, [], {}, "2026-13-45T99:99:99Z", "١٢٣", "-0", "1e3", "NaN"]


def commands() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for number, mode in ((1, "9610"), (2, "1210")):
        out += [json.loads(c.to_json()) for c in declare_clearance(number, trade_mode=mode)]
    waybill = declare_clearance(3, trade_mode="1210")[2].document
    out.append({"commandId": "entry-1", "sender": SITE_OPERATOR, "docType": "CEB711",
                "document": entry_document([waybill], "E1")})
    return out


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    yield path


def replaced(doc: dict[str, Any], path: tuple[Any, ...], new: Any, *, drop: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    if not path:
        return out
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    if drop and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = new
    return out


def variants(doc: dict[str, Any], rng: random.Random) -> Iterator[dict[str, Any]]:
    paths = list(leaves(doc))
    for path in paths:
        yield replaced(doc, path, None, drop=True)
        for value in rng.sample(ODD_VALUES, 8):
            yield replaced(doc, path, value)


def schema_of(command: dict[str, Any]) -> str:
    return f"commands/declare-{command['docType']}.json"


@pytest.mark.parametrize("command", commands(), ids=lambda c: str(c["docType"]))
def test_both_validators_accept_the_real_command(command: dict[str, Any]) -> None:
    name = schema_of(command)
    assert validator(name).is_valid(command) and fast_validator(name).is_valid(command)
    assert errors_of(name, command) == []


@pytest.mark.parametrize("command", commands(), ids=lambda c: str(c["docType"]))
def test_on_hostile_variants_they_agree_or_the_stricter_refuses_with_a_finding(command: dict[str, Any]) -> None:
    name = schema_of(command)
    rng = random.Random(f"{command['docType']}-{command['commandId']}")
    checked = disagreements = 0
    for variant in variants(command, rng):
        python = validator(name).is_valid(variant)
        try:
            rust = fast_validator(name).is_valid(variant)
        except ValueError:
            rust = False
        checked += 1
        if python != rust:
            disagreements += 1
            assert python and not rust, f"the compiled validator accepted what jsonschema refuses: {variant}"
        assert is_valid(name, variant) == rust
        if not (python and rust):
            assert errors_of(name, variant), "a refused message names at least one finding"
    assert checked > 100
    assert disagreements <= checked // 20, "the validators should rarely disagree"
