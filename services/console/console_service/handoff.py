"""The bonded 运单准备 hand-off (seed 004 §4.9): a warehouse posts a packed parcel's data for a courier;
the courier declares its waybill (CEB511) from it in one step.

Parcels wait in this process's memory until the courier declares them (they hold a consignee's contact,
so they are never written to disk or logged); the declared waybill is the platform's record.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cbec.tenants import Tenant

PARCEL_FIELDS = ("orderNo", "ebpCode", "logisticsNo", "billNo", "weight", "packNo", "freight", "consignee",
                 "consigneeTelephone", "consigneeAddress")


@dataclass
class Parcel:
    id: str
    warehouse: str
    courier: str
    data: dict[str, str]
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    result: str = ""  # empty until declared: accepted | duplicate | refused …
    errors: list[str] = field(default_factory=list)

    def waybill(self, courier: Tenant) -> dict[str, Any]:
        """The courier's CEB511 from the parcel: its own code and name, the parcel's data."""
        head = {name: self.data[name] for name in PARCEL_FIELDS if name != "ebpCode" and self.data.get(name)}
        head.update(logisticsCode=courier.customs_code, logisticsName=courier.name, insuredFee="0", currency="142")
        return {"LogisticsHead": head}


class HandOffs:
    def __init__(self) -> None:
        self._parcels: dict[str, Parcel] = {}
        self._lock = threading.Lock()

    def post(self, warehouse: str, courier: str, data: dict[str, str]) -> Parcel:
        parcel = Parcel(uuid.uuid4().hex, warehouse, courier,
                        {k: str(data.get(k, "")).strip()[:200] for k in PARCEL_FIELDS})
        with self._lock:
            self._parcels[parcel.id] = parcel
        return parcel

    def posted_by(self, warehouse: str) -> list[Parcel]:
        return sorted((p for p in self._parcels.values() if p.warehouse == warehouse), key=lambda p: p.created)

    def addressed_to(self, courier: str) -> list[Parcel]:
        return sorted((p for p in self._parcels.values() if p.courier == courier), key=lambda p: p.created)

    def for_courier(self, parcel_id: str, courier: str) -> Parcel | None:
        parcel = self._parcels.get(parcel_id)
        return parcel if parcel is not None and parcel.courier == courier else None
