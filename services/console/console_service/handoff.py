"""The bonded 运单准备 hand-off (seed 004 §4.9): a warehouse posts a packed parcel's data for a courier;
the courier declares its waybill (CEB511) from it in one step.

:class:`HandOffs` keeps parcels in this process's memory (the embedded development run);
:class:`console_service.stores.SqlHandOffs` keeps them in the console's database with the parcel's data
(a consignee's contact) encrypted. They are never logged; the declared waybill is the platform's record.
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
    """Parcels by warehouse and courier, in memory; a store that keeps them overrides :meth:`_stored`,
    :meth:`save` and :meth:`_matching`."""

    def __init__(self) -> None:
        self._parcels: dict[str, Parcel] = {}
        self._lock = threading.Lock()

    def post(self, warehouse: str, courier: str, data: dict[str, str]) -> Parcel:
        parcel = Parcel(uuid.uuid4().hex, warehouse, courier,
                        {k: str(data.get(k, "")).strip()[:200] for k in PARCEL_FIELDS})
        self._stored(parcel)
        with self._lock:
            self._parcels[parcel.id] = parcel
        return parcel

    def save(self, parcel: Parcel) -> None:
        """Keep the courier's declaration (result, errors)."""

    def posted_by(self, warehouse: str) -> list[Parcel]:
        return sorted(self._matching("warehouse", warehouse), key=lambda p: p.created)

    def addressed_to(self, courier: str) -> list[Parcel]:
        return sorted(self._matching("courier", courier), key=lambda p: p.created)

    def for_courier(self, parcel_id: str, courier: str) -> Parcel | None:
        parcel = next(iter(self._matching("id", parcel_id)), None)
        return parcel if parcel is not None and parcel.courier == courier else None

    def _stored(self, parcel: Parcel) -> None:
        """A new parcel."""

    def _matching(self, attribute: str, value: str) -> list[Parcel]:
        """The parcels whose ``attribute`` (id, warehouse or courier) is ``value``."""
        with self._lock:
            return [p for p in self._parcels.values() if getattr(p, attribute) == value]
