"""The operator view's figures, read through the platform's listing API per tenant: documents per phase,
rejections by status code, documents waiting for customs past a deadline. (The windowed stream agent the
issue asks for is not built; see docs/console.md.)"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cbec.tenants import TenantRegistry

from console_service.platform import Platform

WAITING_PHASES = frozenset({"sent", "signing", "held", "received"})
SCAN = 200  # documents per tenant and type looked at (the newest)


@dataclass
class TenantFigures:
    code: str
    name: str
    phases: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)  # doc type -> rejections
    overdue: int = 0


async def figures(platform: Platform, tenants: TenantRegistry, doc_types: dict[str, list[str]],
                  overdue_after: timedelta = timedelta(minutes=30), now: datetime | None = None) -> list[TenantFigures]:
    now = now or datetime.now(UTC)
    out = []
    for tenant in sorted(tenants.all(), key=lambda t: t.customs_code):
        row = TenantFigures(tenant.customs_code, tenant.name)
        for doc_type in doc_types.get(tenant.customs_code, []):
            reply = await platform.listing(tenant.customs_code, doc_type, {"limit": str(SCAN)})
            for item in reply.body.get("items", []) if reply.ok else []:
                row.phases[str(item.get("phase"))] += 1
                if item.get("statusCode") == 100 or item.get("phase") == "rejected":
                    row.rejected[doc_type] += 1
                updated = datetime.fromisoformat(str(item.get("updatedAt")))
                if item.get("phase") in WAITING_PHASES and now - updated > overdue_after:
                    row.overdue += 1
        out.append(row)
    return out
