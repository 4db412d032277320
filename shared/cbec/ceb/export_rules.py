"""Export business rules (ceb-formats §3 notes, §8, §9) on one export message's documents, and the customs
code tables its fields take their codes from (:mod:`cbec.ceb.code_lists`).

Called by :func:`cbec.ceb.rules.validate_business` for every export root (the rules shared with import,
qty × price, qty2/unit2, run there too). Each finding names the field's path, the rule and a code: customs'
own where the export ranges hold one (-301002 a repeated gnum in an order), else a ``CBEC-…`` code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cbec.ceb import code_lists as tables
from cbec.ceb.code_lists import CodeTable

CODE = "CBEC-CODE"
IE_FLAG = "CBEC-IE-FLAG"
COUNTRY_CHINA = "CBEC-COUNTRY"
TRADE_MODE = "CBEC-TRADE-MODE"
GNUM_DUP = "CBEC-GNUM-DUP"
MSG_SEQ = "CBEC-MSG-SEQ"
PERIOD = "CBEC-PERIOD"

# Field name → the code table it takes its codes from (export heads and lines alike).
FIELD_TABLES: dict[str, CodeTable] = {
    "currency": tables.CURRENCY, "fCurrency": tables.CURRENCY, "iCurrency": tables.CURRENCY,
    "unit": tables.UNIT, "unit1": tables.UNIT, "unit2": tables.UNIT,
    "country": tables.COUNTRY, "tradeCountry": tables.COUNTRY,
    "trafMode": tables.TRANSPORT,
    "customsCode": tables.CUSTOMS_DISTRICT, "portCode": tables.CUSTOMS_DISTRICT,
    "wrapType": tables.WRAP_TYPE,
}  # fmt: skip

# Import documents share the country fields (CEB621 lines, CEB625 head) and the CEB621 head's optional
# wrapType; their currency is fixed at 142 by rules._rule_currency, and their other coded fields keep the
# checks rules.py gives them.
IMPORT_FIELD_TABLES: dict[str, CodeTable] = {
    "country": tables.COUNTRY, "tradeCountry": tables.COUNTRY, "wrapType": tables.WRAP_TYPE,
}

EXPORT_TRADE_MODES = frozenset({"9610", "9710", "9810", "1210"})  # REV22: the export list's trade modes
RETURN_TRADE_MODES = EXPORT_TRADE_MODES | {"1239"}  # XSD-E22 on CEB213: "1210/1239"
ORDER_TYPES = frozenset({"E", "B", "W"})  # REV22: B2C, B2B (9710), overseas-warehouse booking (9810)
# ieFlag per type: export documents E; the export return and its tally bring goods back, I (§9).
IE_FLAGS = {"CEB603": "E", "CEB507": "E", "CEB213": "I", "CEB215": "I"}
SPLIT_MESSAGES = frozenset({"CEB507", "CEB509", "CEB607", "CEB701"})  # carry msgCount / msgSeqNo

Add = Callable[[str, str, str, str], None]
"""``add(code, field path below the document, rule, message)``."""


def check(msg_type: str, doc: dict[str, Any], head: dict[str, Any], hp: str, lines: list[dict[str, Any]],
          ln: str, add: Add) -> None:
    """Every export rule for one document of ``msg_type`` (``hp``/``ln``: its head's and lines' paths)."""
    _codes(head, hp, add)
    for i, line in enumerate(lines, 1):
        _codes(line, f"{ln}[{i}]", add)
    if msg_type == "CEB303":
        _one_of(head, hp, "orderType", ORDER_TYPES, "§3 export orderType (E B2C, B B2B, W overseas warehouse)", add)
        _gnum(lines, ln, "-301002", add)
    if msg_type in IE_FLAGS:
        wanted = IE_FLAGS[msg_type]
        value = head.get("ieFlag")
        if isinstance(value, str) and value != wanted:
            add(IE_FLAG, f"{hp}.ieFlag", f"§9 ieFlag {wanted} on a {msg_type}",
                f"ieFlag must be {wanted} on a {msg_type}, got {value!r}")
    if msg_type == "CEB603":
        _list_head(head, hp, add)
        _gnum(lines, ln, GNUM_DUP, add)
    if msg_type == "CEB213":
        _trade_mode(head, hp, RETURN_TRADE_MODES, add)
    if msg_type in ("CEB507", "CEB509", "CEB607"):
        _gnum(lines, ln, GNUM_DUP, add)
    if msg_type in SPLIT_MESSAGES:
        _split(head, hp, add)
    if msg_type == "CEB701":
        _summary_head(head, hp, add)


def check_import_codes(head: dict[str, Any], hp: str, lines: list[dict[str, Any]], ln: str, add: Add) -> None:
    """The code tables an import document's fields share with export (:data:`IMPORT_FIELD_TABLES`)."""
    _codes(head, hp, add, IMPORT_FIELD_TABLES)
    for i, line in enumerate(lines, 1):
        _codes(line, f"{ln}[{i}]", add, IMPORT_FIELD_TABLES)


def _codes(node: dict[str, Any], path: str, add: Add, field_tables: dict[str, CodeTable] = FIELD_TABLES) -> None:
    for name, table in field_tables.items():
        value = node.get(name)
        if not isinstance(value, str) or not value:  # an optional field left empty (unit2)
            continue
        why = tables.check(table, value)
        if why is not None:
            add(CODE, f"{path}.{name}", f"§9 {table.name}", why)


def _one_of(node: dict[str, Any], path: str, name: str, allowed: frozenset[str], rule: str, add: Add) -> None:
    value = node.get(name)
    if isinstance(value, str) and value not in allowed:
        add(CODE, f"{path}.{name}", rule, f"{name} must be one of {'/'.join(sorted(allowed))}, got {value!r}")


def _gnum(lines: list[dict[str, Any]], ln: str, code: str, add: Add) -> None:
    """§8.A.14: no line number twice."""
    seen: set[str] = set()
    for i, line in enumerate(lines, 1):
        g = line.get("gnum")
        if isinstance(g, str) and g in seen:
            add(code, f"{ln}[{i}].gnum", "§8.A.14 gnum unique", f"gnum {g} is repeated")
        elif isinstance(g, str):
            seen.add(g)


def _trade_mode(head: dict[str, Any], hp: str, allowed: frozenset[str], add: Add) -> None:
    value = head.get("tradeMode")
    if isinstance(value, str) and value and value not in allowed:
        add(TRADE_MODE, f"{hp}.tradeMode", "§3 export trade modes (REV22)",
            f"tradeMode must be one of {'/'.join(sorted(allowed))}, got {value!r}")


def _list_head(head: dict[str, Any], hp: str, add: Add) -> None:
    """The export list: its trade mode, its declaration type (statisticsFlag) and a destination abroad."""
    _trade_mode(head, hp, EXPORT_TRADE_MODES, add)
    _one_of(head, hp, "statisticsFlag", frozenset({"A", "B"}),
            "§3 statisticsFlag (A simplified, B summary declaration)", add)
    if head.get("country") == "142":
        add(COUNTRY_CHINA, f"{hp}.country", "XSD-E22 运抵国: not China",
            "country (运抵国) names where the goods go and may not be China (142)")


def _split(head: dict[str, Any], hp: str, add: Add) -> None:
    """§3: a message split in parts numbers them msgSeqNo 1..msgCount."""
    count, seq = head.get("msgCount"), head.get("msgSeqNo")
    if not (isinstance(count, str) and isinstance(seq, str) and count.isdigit() and seq.isdigit()):
        return
    if not 1 <= int(seq) <= int(count):
        add(MSG_SEQ, f"{hp}.msgSeqNo", "§3 msgSeqNo 1..msgCount",
            f"msgSeqNo {seq} is not a part of the {count} this message is split in")


def _summary_head(head: dict[str, Any], hp: str, add: Add) -> None:
    _one_of(head, hp, "summaryFlag", frozenset({"1", "2"}),
            "§3 summaryFlag (1 by consignor, 2 by consignor and producer)", add)
    _one_of(head, hp, "itemNameFlag", frozenset({"1"}),
            "§3 itemNameFlag (1: by the enterprise's item name; the XSD leaves no way to leave it empty)", add)
    start, end = head.get("startTime"), head.get("endTime")
    if isinstance(start, str) and isinstance(end, str) and start.isdigit() and end.isdigit() \
            and len(start) == len(end) and start > end:
        add(PERIOD, f"{hp}.startTime", "§3 summary period", f"startTime {start} is after endTime {end}")
