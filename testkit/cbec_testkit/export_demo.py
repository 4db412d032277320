"""`cbec demo --flow export`: 9610, 9710 and 9810 export clearances through the whole chain.

Every clearance declares its order (CEB303; a booking, orderType W, for 9810), for 9610 its 收款单 (CEB403),
its waybill (CEB505) and its list (CEB603), all at once; the arrival (CEB507) and the departure (CEB509)
of all the waybills follow straight away. The saga releases each when its prerequisites are there: the
waybill after the order, the list after order, 收款单 and waybill, the 运抵单 once every list is released,
the 离境单 once the goods arrived. Once customs has given each list its number, the master bill (CEB607)
binds them; once they departed, the month's summary (CEB701, composed by ``cbec summary compose``) is
declared, customs answers with a CEB702 and the CEB792 summary result, and the saga closes the lists.

One more 9710 clearance is declared in customs-declaration mode (strategy ``9710报关单``): its order and
waybill only, no list; it goes on the 运抵单 and the 离境单 and is finished once its waybill and its
departure are accepted (its goods are declared on an ordinary customs declaration, outside CEB).

``--scenario faults`` adds two clearances: a cancel declared after departure, refused by the saga
(``CBEC-EXPORT-CANCEL``), and a return (CEB213) after departure with its tally (CEB215).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cbec.contracts.commands import DeclareDocument
from cbec.declaration.doctypes import BY_CODE
from cbec.declaration.views import status_view

from cbec_testkit.embedded import EmbeddedStack
from cbec_testkit.samples import DECLARANT, LOGISTICS_COMPANY, SITE_OPERATOR
from cbec_testkit.samples import export as samples
from cbec_testkit.samples.export import SELLER, ExportClearance

MODES = ("9610", "9710", "9810")
LIST_TYPES = ("CEB303", "CEB403", "CEB505", "CEB603")
RELEASED = 800


@dataclass
class ExportCase:
    """One export clearance of the demo: its numbers, its documents as declared, what it should end as."""

    clearance: ExportClearance
    documents: dict[str, DeclareDocument] = field(default_factory=dict)
    expect: str = "summarised"  # or "cancel refused", "returned", "departed" (报关单模式: no list)
    strategy: str = ""  # the export strategy its commands name (``9710报关单``)

    @property
    def key(self) -> str:
        return self.clearance.clearance_key

    @property
    def trade_mode(self) -> str:
        return self.clearance.trade_mode


def cases(count: int, scenario: str) -> list[ExportCase]:
    """``count`` clearances (at least one per trade mode) and, for ``faults``, two more."""
    out = [ExportCase(ExportClearance(n, MODES[(n - 1) % len(MODES)])) for n in range(1, max(count, 3) + 1)]
    out.append(ExportCase(ExportClearance(len(out) + 1, "9710"), expect="departed", strategy="9710报关单"))
    if scenario == "faults":
        out += [ExportCase(ExportClearance(len(out) + 1, "9610"), expect="cancel refused"),
                ExportCase(ExportClearance(len(out) + 2, "9610"), expect="returned")]
    return out


def _command(code: str, sender: str, document: dict[str, Any], name: str, **envelope: str) -> DeclareDocument:
    return DeclareDocument(f"cmd-{code}-{name}", sender, code, document, **envelope)


class ExportDemo:
    """Drives the export flow on the embedded stack (see the module docstring)."""

    def __init__(self, stack: EmbeddedStack, clearances: list[ExportCase]) -> None:
        self.stack = stack
        self.clearances = clearances
        self.groups: dict[str, DeclareDocument] = {}
        self.reactions: list[tuple[Callable[[], bool], Callable[[], None]]] = []

    # -- what happened --------------------------------------------------------------------------
    def state(self, code: str, command: DeclareDocument | None) -> Any:
        if command is None:
            return None
        return self.stack.declaration(code, BY_CODE[code].business_key(command.document))

    def status(self, case: ExportCase, code: str) -> int | None:
        state = self.state(code, case.documents.get(code))
        return state.status_code if state else None

    def phase(self, case: ExportCase, code: str) -> str:
        state = self.state(code, case.documents.get(code))
        return str(state.phase) if state else "missing"

    def export_view(self, key: str) -> dict[str, Any]:
        return dict(self.stack.saga.view(key).get("export") or {})

    def invt_no(self, case: ExportCase) -> str:
        if "CEB603" not in case.documents:
            return ""
        record = self.stack.simulator.records.get(("CEB603", BY_CODE["CEB603"].business_key(
            case.documents["CEB603"].document)))
        return record.invt_no if record is not None else ""

    def released_at(self, case: ExportCase) -> str:
        state = self.state("CEB603", case.documents.get("CEB603"))
        times = [r.time for r in state.receipts if r.status == RELEASED] if state else []
        return min(times) if times else ""

    def departed(self, case: ExportCase) -> bool:
        return "departed" in self.export_view(case.key).get("milestones", {})

    @property
    def listed(self) -> list[ExportCase]:
        """The clearances declared with a list (清单模式)."""
        return [c for c in self.clearances if not c.strategy.endswith("报关单")]

    def finished(self, case: ExportCase) -> bool:
        summarised = bool(self.export_view(case.key).get("finished"))
        if case.expect == "cancel refused":
            return summarised and self.phase(case, "CEB605") == "refused"
        if case.expect == "returned":
            return summarised and self.status(case, "CEB215") == 399
        return summarised

    def done(self) -> bool:
        return all(self.finished(c) for c in self.clearances)

    def react(self) -> None:
        for when, then in list(self.reactions):
            if when():
                then()
                self.reactions.remove((when, then))

    # -- declaring ------------------------------------------------------------------------------
    def start(self) -> None:
        for case in self.clearances:
            c, strategy = case.clearance, {"strategy": case.strategy} if case.strategy else {}
            case.documents["CEB303"] = _command("CEB303", SELLER, samples.order_document(c), c.order_no, **strategy)
            if c.trade_mode == "9610":
                case.documents["CEB403"] = _command("CEB403", SELLER, samples.collection_document(c), c.order_no)
            case.documents["CEB505"] = _command("CEB505", LOGISTICS_COMPANY, samples.waybill_document(c), c.order_no,
                                                order_no=c.order_no, ebc_code=SELLER, **strategy)
            if case in self.listed:
                case.documents["CEB603"] = _command("CEB603", DECLARANT, samples.inventory_document(c), c.order_no)
            for code in LIST_TYPES:
                if code in case.documents:
                    self.stack.submit(case.documents[code])
        self.reactions = [(self._waybills_declared, self._declare_arrival_and_departure),
                          (self._all_numbered, self._declare_master_bill),
                          (self._all_departed, self._declare_summary)]
        for case in self.clearances:
            if case.expect in ("cancel refused", "returned"):
                self.reactions.append(self._after_departure(case))

    def _after_departure(self, case: ExportCase) -> tuple[Callable[[], bool], Callable[[], None]]:
        """The scenario's cancel (refused) or return (with its tally), once the goods departed."""
        then = self._cancel if case.expect == "cancel refused" else self._return
        return (lambda: self.departed(case)), (lambda: then(case))

    def _waybills_declared(self) -> bool:
        return all(self.state("CEB505", c.documents["CEB505"]) is not None for c in self.clearances)

    def _declare_arrival_and_departure(self) -> None:
        all_of = [c.clearance for c in self.clearances]
        self.groups["CEB507"] = _command("CEB507", SITE_OPERATOR, samples.arrival_document(all_of, "ARR0001"), "a")
        self.groups["CEB509"] = _command("CEB509", LOGISTICS_COMPANY, samples.departure_document(all_of, "DEP0001"),
                                         "d")
        self.stack.submit(self.groups["CEB507"])
        self.stack.submit(self.groups["CEB509"])

    def _all_numbered(self) -> bool:
        return all(self.invt_no(c) and self.status(c, "CEB603") == RELEASED for c in self.listed)

    def _declare_master_bill(self) -> None:
        lists = [(c.clearance, self.invt_no(c)) for c in self.listed]
        self.groups["CEB607"] = _command("CEB607", DECLARANT, samples.master_bill_document(lists, "WB0001"), "m")
        self.stack.submit(self.groups["CEB607"])

    def _all_departed(self) -> bool:
        return all(self.departed(c) and self.released_at(c) for c in self.listed)

    def _declare_summary(self) -> None:
        from cbec_cli.summary import ReleasedList, compose, month_period

        lists = [ReleasedList(self.invt_no(c), self.released_at(c), c.documents["CEB603"].document)
                 for c in self.listed]
        start, end = month_period(f"{lists[0].released_at[:4]}-{lists[0].released_at[4:6]}")
        [summary] = compose(lists, ebc_code=SELLER, start=start, end=end, cop_no="SUM0001")
        self.groups["CEB701"] = _command("CEB701", DECLARANT, summary, "s")
        self.stack.submit(self.groups["CEB701"])

    def _cancel(self, case: ExportCase) -> None:
        case.documents["CEB605"] = _command("CEB605", DECLARANT, samples.cancel_document(case.clearance,
                                                                                       self.invt_no(case)), case.key)
        self.stack.submit(case.documents["CEB605"])

    def _return(self, case: ExportCase) -> None:
        invt_no = self.invt_no(case)
        case.documents["CEB213"] = _command("CEB213", DECLARANT, samples.return_document(case.clearance, invt_no),
                                            case.key)
        self.stack.submit(case.documents["CEB213"])

        def tally() -> None:
            case.documents["CEB215"] = _command("CEB215", SITE_OPERATOR, samples.tally_document(case.clearance,
                                                                                              invt_no), case.key)
            self.stack.submit(case.documents["CEB215"])

        self.reactions.append((lambda: (self.status(case, "CEB213") or 0) >= 120, tally))

    # -- the report -------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        clearances = []
        for c in self.clearances:
            documents = {}
            for code, command in c.documents.items():
                state = self.state(code, command)
                documents[BY_CODE[code].kind] = status_view(state) if state else {"status": "missing"}
            saga = self.stack.saga.view(c.key)
            clearances.append({"clearanceKey": c.key, "tradeMode": c.trade_mode, "strategy": c.strategy,
                               "expected": c.expect,
                               "finished": self.finished(c), "invtNo": self.invt_no(c), "documents": documents,
                               "saga": {k: d["status"] for k, d in saga["documents"].items()},
                               "export": saga.get("export", {}), "alerts": saga["alerts"]})
        groups = {}
        for code, command in self.groups.items():
            state = self.state(code, command)
            groups[BY_CODE[code].kind] = status_view(state) if state else {"status": "missing"}
        return {"clearances": clearances, "groups": groups}
