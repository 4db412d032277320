"""``cbec.ops.notification-circuits``: :class:`CircuitChanged`, a tenant's notification circuit opened
(its callback failed: pushes wait for the probe), failed another probe, or closed again
(``schemas/operations/notification-circuit.json``); keyed by the tenant, so a tenant's changes stay
in order. The saga's notifier publishes them (through its outbox); the console's operator view keeps
the latest per tenant. An open circuit whose probe is due is *half-open*: its next push is the probe.
No personal data: the tenant, times, the probe count and the last error (an HTTP status or an error
class).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cbec.contracts.base import ContractError, JsonMessage, check_schema, finding, text

OPEN, CLOSED = "open", "closed"
CIRCUIT_STATES = (OPEN, CLOSED)


def _time(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = text(data, name, required=required)
    if value:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ContractError([finding(name, f"{name} must be an ISO 8601 time")]) from None
    return value


@dataclass(frozen=True, slots=True)
class CircuitChanged(JsonMessage):
    """One change of a tenant's notification circuit (state ``open`` or ``closed``)."""

    tenant: str
    state: str
    changed_at: str  # ISO time of the change
    blocked_since: str = ""  # open: since when pushes wait ("" when closed)
    probe_due: str = ""  # open: when the next probe goes ("" when closed)
    probes: int = 0  # failed probes so far (0 when closed)
    error: str = ""  # the last failure ("" when closed)

    @property
    def key(self) -> str:
        return self.tenant

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "cbec.circuit/1", "tenant": self.tenant, "state": self.state,
                "changedAt": self.changed_at, "blockedSince": self.blocked_since, "probeDue": self.probe_due,
                "probes": self.probes, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CircuitChanged:
        probes = data.get("probes", 0)
        if not isinstance(probes, int) or isinstance(probes, bool) or probes < 0:
            raise ContractError([finding("probes", "probes must be a non-negative integer")])
        state = text(data, "state")
        if state not in CIRCUIT_STATES:
            raise ContractError([finding("state", f"state must be one of {', '.join(CIRCUIT_STATES)}")])
        message = cls(tenant=text(data, "tenant"), state=state, changed_at=_time(data, "changedAt"),
                      blocked_since=_time(data, "blockedSince", required=False),
                      probe_due=_time(data, "probeDue", required=False), probes=probes,
                      error=text(data, "error", required=False))
        check_schema("operations/notification-circuit.json", data)
        return message


__all__ = ["CIRCUIT_STATES", "CLOSED", "OPEN", "CircuitChanged"]
