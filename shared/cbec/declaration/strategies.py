"""Export strategies (seed 003): named presets a tenant applies to its documents.

A strategy says how an enterprise declares its export: the trade mode (9610 B2C, 9710 B2B direct, 9810
overseas warehouse), the order type that goes with it (E, B, W) and whether a list is declared (清单模式)
or not (报关单模式: the goods are declared on an ordinary customs declaration outside the CEB messages,
so cbec declares the order and the logistics documents only). A command names one (``strategy``), else
the tenant record's default applies (``strategy`` there); none applies when neither names one.

Applying one fills the head fields a type's policy maps to it (``strategy_fields``) where the document
leaves them out, and never overwrites a value the sender gave. The list a 报关单 strategy declares none
of is refused. A 9810 document (from the strategy or its own fields) needs the seller's overseas-warehouse
filing (海外仓备案) in its tenant record (``overseasWarehouseFiling``), else it is refused naming that field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cbec.errors import CebError
from cbec.tenants import TenantRegistry

UNKNOWN = "CBEC-0002"
NO_LIST = "CBEC-1008"
CONFLICT = "CBEC-1009"
NO_FILING = "CBEC-1007"
DECLARATION_MODE = "报关单"


@dataclass(frozen=True, slots=True)
class Strategy:
    """One preset: the values it fills (by attribute name, see ``DocumentPolicy.strategy_fields``)."""

    name: str
    trade_mode: str
    order_type: str
    declares_list: bool

    def value(self, attribute: str) -> str:
        found = getattr(self, attribute)
        assert isinstance(found, str), attribute
        return found


PRESETS: dict[str, Strategy] = {s.name: s for s in (
    Strategy("9610清单", "9610", "E", declares_list=True),
    Strategy("9710清单", "9710", "B", declares_list=True),
    Strategy("9810清单", "9810", "W", declares_list=True),
    Strategy("9710报关单", "9710", "B", declares_list=False),
    Strategy("9810报关单", "9810", "W", declares_list=False),
)}
OVERSEAS_WAREHOUSE = PRESETS["9810清单"]  # what makes a document 9810, field by field


@dataclass(frozen=True, slots=True)
class Applied:
    """A strategy applied to one document: the document with its defaults, the strategy's name, refusals."""

    document: dict[str, Any]
    strategy: str = ""
    errors: tuple[CebError, ...] = ()


def named(command_strategy: str, tenants: TenantRegistry, sender: str) -> tuple[Strategy | None, list[CebError]]:
    """The strategy a command applies: its own, else its sender's default (None: no strategy)."""
    tenant_default = tenants.get(sender).strategy if sender in tenants else ""
    name, where = (command_strategy, "strategy") if command_strategy else (tenant_default, "tenant.strategy")
    if not name:
        return None, []
    if name not in PRESETS:
        return None, [CebError(UNKNOWN, where, "strategy", f"no strategy {name!r}; the presets are "
                                                             f"{', '.join(PRESETS)}")]
    return PRESETS[name], []


def apply(
    strategy: Strategy | None, fields: tuple[tuple[str, str], ...], is_list: bool, head_name: str | None,
    document: dict[str, Any], where: str,
) -> Applied:
    """Fill the head fields ``fields`` maps to ``strategy`` where the document leaves them out; refuse a
    list under a strategy that declares none, and a field the sender gave that contradicts the strategy."""
    if strategy is None:
        return Applied(document)
    if is_list and not strategy.declares_list:
        return Applied(document, strategy.name, (CebError(
            NO_LIST, "strategy", f"strategy {strategy.name}",
            f"{strategy.name} declares no list: the goods go on a customs declaration ({DECLARATION_MODE}模式)"),))
    given = head_of(document, head_name)
    conflicts = tuple(
        CebError(CONFLICT, f"{where}.{f}", f"strategy {strategy.name}",
                 f"{f} {given[f]!r} contradicts strategy {strategy.name} ({f} {strategy.value(a)})")
        for f, a in fields if given.get(f) and given[f] != strategy.value(a))
    if conflicts:
        return Applied(document, strategy.name, conflicts)
    missing = [(f, a) for f, a in fields if not given.get(f)]
    if not missing:
        return Applied(document, strategy.name)
    filled = dict(document)
    head = dict(head_of(document, head_name))
    for name, attribute in missing:
        head[name] = strategy.value(attribute)
    if head_name:
        filled[head_name] = head
    else:
        filled = head
    return Applied(filled, strategy.name)


def overseas_filing(
    tenants: TenantRegistry, sender: str, fields: tuple[tuple[str, str], ...], where: str, head: dict[str, Any]
) -> list[CebError]:
    """A 9810 document (orderType W, tradeMode 9810) needs its seller's overseas-warehouse filing: the
    tenant record of its ebcCode (or of the sender, when the seller is not registered here)."""
    marks = [f for f, a in fields if head.get(f) == OVERSEAS_WAREHOUSE.value(a)]
    if not marks:
        return []
    seller = str(head.get("ebcCode", ""))
    code = seller if seller in tenants else sender
    if code in tenants and tenants.get(code).overseas_warehouse_filing:
        return []
    return [CebError(NO_FILING, "tenant.overseasWarehouseFiling", "9810 overseas-warehouse filing (海外仓备案)",
                     f"{where}.{marks[0]} {head.get(marks[0])} is 9810 export to an overseas warehouse; enterprise "
                     f"{code} has no overseas-warehouse filing (overseasWarehouseFiling) in its tenant record")]


def head_of(document: dict[str, Any], head_name: str | None) -> dict[str, Any]:
    head = document.get(head_name) if head_name else document
    return head if isinstance(head, dict) else {}
