"""The entry-list join: an entry list (CEB711) waits for the lists of the waybills it names.

An entry list is a saga instance of its own (keyed by its own clearance key) that joins many
clearances by the waybill numbers it lists (``logisticsNos``). A small index instance per waybill
number (``waybill:<logisticsNo>``) learns which clearance the waybill belongs to (``WaybillIndexed``)
and which entry lists wait for it, so an entry list may arrive before its waybills. Each member
clearance records ``EntryRegistered`` and tells the entry instance ``MemberAtGate`` (by waybill
number) when its list reaches the gate; the entry list is released once every member is there
(:meth:`saga_service.domain.Clearance.waiting_for`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from saga_service.domain import (
    ENTRY_REGISTERED,
    MEMBER_AT_GATE,
    WAYBILL_INDEXED,
    Clearance,
    Decision,
    Policy,
    then_decide,
)


class Touched(Protocol):
    """One instance in the unit of work: its state and the events decided for it so far."""

    state: Clearance
    events: list[Decision]


class Instances(Protocol):
    """The instances one message touches, loaded once (the application's unit of work)."""

    def get(self, key: str) -> Touched: ...


def waybill_index(logistics_no: str) -> str:
    """The key of the index instance of one waybill number."""
    return f"waybill:{logistics_no}"


def join(instances: Instances, key: str, now: datetime, policy: Policy) -> None:
    """Connect entry lists and clearances through the waybill index, after instance ``key`` changed."""
    state = instances.get(key).state
    entry = state.docs.get("entry")
    if entry is not None:
        for number in entry.members:
            index = instances.get(waybill_index(number))
            if key not in index.state.entries:
                index.events += register_entry(index.state, key, now, policy)
            if index.state.indexed:
                _link(instances, index.state.indexed, key, number, now, policy)
    number = logistics_no(state)
    if number:
        index = instances.get(waybill_index(number))
        index.events += index_waybill(index.state, key)
        for entry_key in index.state.entries:
            _link(instances, key, entry_key, number, now, policy)


def _link(instances: Instances, clearance_key: str, entry_key: str, number: str, now: datetime,
          policy: Policy) -> None:
    member = instances.get(clearance_key)
    if entry_key not in member.state.entries:
        member.events += register_entry(member.state, entry_key, now, policy)
    inventory = member.state.docs.get("inventory")
    if inventory is not None and inventory.at_gate(policy.gate):
        target = instances.get(entry_key)
        target.events += member_at_gate(target.state, number, now, policy)


def register_entry(state: Clearance, entry_key: str, at: datetime, policy: Policy) -> list[Decision]:
    if entry_key in state.entries:
        return []
    return then_decide(state, [(ENTRY_REGISTERED, {"entryKey": entry_key})], at, policy)


def member_at_gate(state: Clearance, logistics_no: str, at: datetime, policy: Policy) -> list[Decision]:
    """The list of waybill ``logistics_no`` (in entry list ``state``) reached the gate."""
    if logistics_no in state.members_at_gate:
        return []
    return then_decide(state, [(MEMBER_AT_GATE, {"logisticsNo": logistics_no})], at, policy)


def index_waybill(state: Clearance, clearance_key: str) -> list[Decision]:
    """Waybill index instance ``state`` learns its clearance (once)."""
    if state.indexed:
        return []
    event: Decision = (WAYBILL_INDEXED, {"clearanceKey": clearance_key})
    state.apply(*event)
    return [event]


def logistics_no(state: Clearance) -> str:
    """The waybill number of a clearance ('' until its waybill is known)."""
    waybill = state.docs.get("waybill")
    return waybill.business_key[-1] if waybill is not None and len(waybill.business_key) == 2 else ""
