"""The export join: documents that span many clearances and the clearances they name.

A group document (运抵单, 离境单, 总分单, 汇总申请单, 退运理货单; :data:`export_rules.GROUPS`) is a saga
instance of its own that names its member clearances (``clearanceKeys``, resolved by its owning
service). Each member records ``GroupRegistered`` so that later changes of the member reach the group;
the group records ``MemberReady`` once a member is where it needs it (:func:`export_rules.member_ready`)
and is released when every member is; a member that can no longer get there
(:func:`export_rules.member_lost`: its list cancelled, rejected or refused …) is recorded on the group
(``MemberLost``), which refuses it. When customs accepts the group (or, for a summary, its CEB792
result arrives) each member records the milestone (``arrived``, ``departed``, ``bound``, ``summarised``,
``tallied``), which may in turn make it ready for another group (arrived → the 离境单) or release one
of its own documents (departed → a return; a cancel is refused from then on).

Unlike the entry list (:mod:`saga_service.entry_join`) no index instance is needed: the group names
its members' clearance keys itself.
"""

from __future__ import annotations

from datetime import datetime

from saga_service import export_rules
from saga_service.domain import (
    GROUP_REGISTERED,
    MEMBER_LOST,
    MEMBER_READY,
    MILESTONE,
    Clearance,
    Decision,
    Policy,
    then_decide,
)
from saga_service.entry_join import Instances


def join(instances: Instances, key: str, now: datetime, policy: Policy) -> None:
    """Connect groups and members after instance ``key`` changed, until nothing more follows."""
    pending = [key]
    while pending:
        current = pending.pop()
        pending += _as_group(instances, current, now, policy)
        _as_member(instances, current, now, policy)


def _as_group(instances: Instances, key: str, now: datetime, policy: Policy) -> list[str]:
    """Register on each member, take note of ready members, pass a milestone on; the members that changed."""
    group = instances.get(key)
    changed: list[str] = []
    for kind, doc in list(group.state.docs.items()):
        if kind not in export_rules.GROUPS:
            continue
        milestone = export_rules.milestone_reached(group.state, kind, policy.gate)
        for member_key in doc.members:
            if member_key == key:
                continue
            member = instances.get(member_key)
            if key not in member.state.groups.get(kind, []):
                member.events += _decide(member.state, GROUP_REGISTERED, {"kind": kind, "groupKey": key}, now, policy)
            ready = export_rules.member_ready(member.state, kind, policy.gate)
            if ready and not group.state.is_ready(kind, member_key):
                group.events += _decide(group.state, MEMBER_READY, {"kind": kind, "memberKey": member_key}, now, policy)
            elif not ready:
                _note_lost(group.state, group.events, kind, member_key, member.state, now, policy)
            if milestone and milestone not in member.state.milestones:
                data = {"milestone": milestone, "groupKey": key, "at": now.isoformat(), **_result(group.state, kind)}
                member.events += _decide(member.state, MILESTONE, data, now, policy)
                changed.append(member_key)
    return changed


def _as_member(instances: Instances, key: str, now: datetime, policy: Policy) -> None:
    """Tell every group naming member ``key`` that it is ready, once it is."""
    member = instances.get(key).state
    for kind, group_keys in member.groups.items():
        ready = export_rules.member_ready(member, kind, policy.gate)
        for group_key in group_keys:
            group = instances.get(group_key)
            if ready and not group.state.is_ready(kind, key):
                group.events += _decide(group.state, MEMBER_READY, {"kind": kind, "memberKey": key}, now, policy)
            elif not ready:
                _note_lost(group.state, group.events, kind, key, member, now, policy)


def _note_lost(group: Clearance, events: list[Decision], kind: str, member_key: str, member: Clearance,
               now: datetime, policy: Policy) -> None:
    """Record on the group that a member not ready can no longer get there (once)."""
    why = export_rules.member_lost(member, kind)
    if why and not group.is_lost(kind, member_key) and not group.is_ready(kind, member_key):
        doc = group.docs.get(kind)
        data = {"kind": kind, "memberKey": member_key, "reason": why, "generation": str(doc.generation if doc else 0)}
        events += _decide(group, MEMBER_LOST, data, now, policy)


def _result(group: Clearance, kind: str) -> dict[str, str]:
    doc = group.docs.get(kind)
    return dict(doc.result) if doc is not None and doc.result else {}


def _decide(state: Clearance, event_type: str, data: dict[str, str], now: datetime,
            policy: Policy) -> list[Decision]:
    return then_decide(state, [(event_type, data)], now, policy)
