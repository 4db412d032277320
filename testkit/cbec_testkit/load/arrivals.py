"""What reached customs: the simulator's journal read back, and the check every load run ends with.

The simulator appends the name of every DXP file it answered to its journal, in the order it answered
them. Each document of a clearance must have arrived declared (appType 1) exactly once, and in
prerequisite order: the order and the payment (either first) before the waybill, the waybill before
the list. With ``resends_allowed`` (a run where customs loses receipts) the same document may arrive
again after its first arrival, but only as itself: the same guid, still appType 1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cbec.ceb import codec, dxp
from cbec.declaration.doctypes import BY_CODE

CLEARANCE_TYPES = ("CEB311", "CEB411", "CEB511", "CEB621")
NAMES = {"CEB311": "order", "CEB411": "payment", "CEB511": "waybill", "CEB621": "list"}


@dataclass(frozen=True, slots=True)
class Arrival:
    """One document as customs received it, numbered in arrival order."""

    seq: int
    doc_type: str
    order_no: str
    guid: str
    app_type: str
    file: str


def journal_names(journal: Path) -> list[str]:
    return journal.read_text(encoding="utf-8").split() if journal.exists() else []


def _locate(name: str, outbox: Path, index: dict[str, Path]) -> Path | None:
    """The file in the outbox, or wherever under the DXP folder it was archived since."""
    direct = outbox / name
    if direct.exists():
        return direct
    if not index:
        index.update((p.name, p) for p in outbox.parent.rglob("*.xml"))
    return index.get(name)


def read_arrivals(journal: Path, outbox: Path) -> tuple[list[Arrival], list[str]]:
    """Every document the simulator answered, in order, and the journal names it could not read."""
    arrivals: list[Arrival] = []
    unreadable: list[str] = []
    index: dict[str, Path] = {}
    for name in journal_names(journal):
        path = _locate(name, outbox, index)
        try:
            if path is None:
                raise FileNotFoundError(name)
            msg = codec.parse(dxp.unwrap(path.read_bytes()).data, strict=False)
        except Exception:  # noqa: BLE001 - any unreadable file is reported, not fatal to the check
            unreadable.append(name)
            continue
        doc_type = BY_CODE.get(msg.type)
        for doc in msg.docs:
            head = doc_type.head_of(doc) if doc_type is not None else {}
            arrivals.append(Arrival(len(arrivals), msg.type, str(head.get("orderNo", "")), str(head.get("guid", "")),
                                    str(head.get("appType", "")), name))
    return arrivals, unreadable


def check_arrivals(arrivals: Sequence[Arrival], order_nos: Iterable[str], *,
                   resends_allowed: bool = False) -> list[str]:
    """Problems with what customs received for these clearances (empty: all well).

    Documents of other clearances (an earlier run's) are ignored.
    """
    wanted = set(order_nos)
    by_clearance: dict[str, list[Arrival]] = defaultdict(list)
    for arrival in arrivals:
        if arrival.order_no in wanted and arrival.doc_type in NAMES:
            by_clearance[arrival.order_no].append(arrival)
    problems: list[str] = []
    for order_no in sorted(wanted):
        mine = by_clearance.get(order_no, [])
        first: dict[str, Arrival] = {}
        for arrival in mine:
            kind = NAMES[arrival.doc_type]
            if arrival.app_type != "1":
                problems.append(f"{order_no}: {kind} arrived with appType {arrival.app_type!r} ({arrival.file})")
            if arrival.doc_type not in first:
                first[arrival.doc_type] = arrival
            elif not resends_allowed:
                problems.append(f"{order_no}: {kind} arrived twice ({first[arrival.doc_type].file}, {arrival.file})")
            elif arrival.guid != first[arrival.doc_type].guid:
                problems.append(f"{order_no}: {kind} arrived again as another document (guid {arrival.guid} "
                                f"after {first[arrival.doc_type].guid})")
        missing = [NAMES[t] for t in CLEARANCE_TYPES if t not in first]
        if missing:
            problems.append(f"{order_no}: never reached customs: {', '.join(missing)}")
            continue
        seq = {t: first[t].seq for t in CLEARANCE_TYPES}
        if not max(seq["CEB311"], seq["CEB411"]) < seq["CEB511"] < seq["CEB621"]:
            arrived = " → ".join(NAMES[t] for t in sorted(CLEARANCE_TYPES, key=seq.__getitem__))
            problems.append(f"{order_no}: out of prerequisite order: {arrived}")
    return problems
