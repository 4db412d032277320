"""The customs code tables export fields take their codes from, as package data (``official/``, provenance
in its README): units, transport modes, countries and the one-digit wrap types complete; currencies partial;
customs districts (portCode, customsCode) by form only (no complete public list was found, see the README).

:func:`check` answers for one field value: None when it is acceptable, else why not. A complete table
refuses a well-formed code it does not hold; a partial one checks the code's form only, so a valid code
the shipped file lacks is never refused.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True, slots=True)
class CodeTable:
    """One customs parameter table: its name in the specification, its file and whether it is complete."""

    name: str  # "JGS-20 计量单位代码"
    file: str  # under official/
    complete: bool
    form: str  # what every code of it looks like (a regular expression)

    @property
    def codes(self) -> dict[str, str]:
        """Code → Chinese name."""
        return _load(self.file)


UNIT = CodeTable("JGS-20 计量单位代码", "jgs20-unit.csv", complete=True, form=r"[0-9]{3}")
TRANSPORT = CodeTable("JGS-20 运输方式代码", "jgs20-transport.csv", complete=True, form=r"[0-9A-Z]")
CURRENCY = CodeTable("JGS-20 货币代码 (CEB numeric)", "ceb-currency.csv", complete=False, form=r"[0-9]{3}")
COUNTRY = CodeTable("JGS-20 国别（地区）代码 (CEB numeric)", "ceb-country.csv", complete=True, form=r"[0-9]{3}")
CUSTOMS_DISTRICT = CodeTable("JGS/T 18 海关关区代码", "", complete=False, form=r"[0-9]{4}")
WRAP_TYPE = CodeTable("包装种类代码 (CEB one digit)", "ceb-wrap-type.csv", complete=True, form=r"[0-9]")

TABLES: tuple[CodeTable, ...] = (UNIT, TRANSPORT, CURRENCY, COUNTRY, CUSTOMS_DISTRICT, WRAP_TYPE)


@cache
def _load(name: str) -> dict[str, str]:
    if not name:
        return {}
    text = files("cbec.ceb").joinpath("official", name).read_text(encoding="utf-8")
    return {row["code"]: row["name_zh"] for row in csv.DictReader(text.splitlines())}


@cache
def _form(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check(table: CodeTable, value: str) -> str | None:
    """Why ``value`` is no code of ``table`` (None: it is one, or may be one the shipped file lacks)."""
    if not _form(table.form).fullmatch(value):
        return f"{value!r} is not a {table.name} code (the form is {table.form})"
    if table.complete and value not in table.codes:
        return f"{value!r} is not a code of the {table.name} table ({table.file})"
    return None


def name_of(table: CodeTable, value: str) -> str:
    """The code's Chinese name, '' when the shipped table does not name it."""
    return table.codes.get(value, "")
