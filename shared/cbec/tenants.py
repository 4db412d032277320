"""The enterprise registry: who may send what, and how each one is addressed at customs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class Role(StrEnum):
    PLATFORM = "platform"
    ECOMMERCE = "ecommerce"
    PAYMENT = "payment"
    LOGISTICS = "logistics"
    DECLARANT = "declarant"  # warehouse / declaring agent (申报企业)
    SITE_OPERATOR = "site_operator"


@dataclass(frozen=True, slots=True)
class Tenant:
    """One registered enterprise (a customs 10-digit code is its identity)."""

    customs_code: str
    name: str
    roles: frozenset[Role]
    dxp_id: str
    uscc: str = ""
    callback_url: str = ""
    delegated_codes: frozenset[str] = field(default_factory=frozenset)
    data_open: bool = False  # a platform that answers customs' 179 payment-data requests
    strategy: str = ""  # the export strategy its documents take when a command names none (``9710清单`` …)
    overseas_warehouse_filing: str = ""  # its 海外仓备案 (overseas-warehouse filing): 9810 export needs one
    sandbox: bool = False  # in the sandbox: never on a production customs link (cbec.sandbox)

    def may_act_for(self, code: str) -> bool:
        return code == self.customs_code or code in self.delegated_codes


def _text(record: dict[str, Any], name: str) -> str:
    value = record.get(name, "")
    if not isinstance(value, str):
        raise ValueError(f"tenant {record.get('customsCode')!r}: {name} must be a string")
    return value


class UnknownTenant(KeyError):
    """The sender is not registered."""


class TenantRegistry:
    """Tenants by customs code; loaded from JSON configuration."""

    def __init__(self, tenants: list[Tenant]) -> None:
        self._by_code = {t.customs_code: t for t in tenants}

    def get(self, code: str) -> Tenant:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownTenant(code) from None

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def all(self) -> list[Tenant]:
        return list(self._by_code.values())

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> TenantRegistry:
        return cls(
            [
                Tenant(
                    customs_code=d["customsCode"],
                    name=d["name"],
                    roles=frozenset(Role(r) for r in d["roles"]),
                    dxp_id=d["dxpId"],
                    uscc=d.get("uscc", ""),
                    callback_url=d.get("callbackUrl", ""),
                    delegated_codes=frozenset(d.get("delegatedCodes", [])),
                    data_open=d.get("dataOpen", False) is True,
                    strategy=_text(d, "strategy"),
                    overseas_warehouse_filing=_text(d, "overseasWarehouseFiling"),
                    sandbox=d.get("sandbox", False) is True,
                )
                for d in data
            ]
        )

    @classmethod
    def from_file(cls, path: Path) -> TenantRegistry:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
