"""Stories of customs' results that arrive before the receipt numbering their document.

Customs' CEB792 (汇总结果单) names its summary only by the sumNo of the summary's CEB702, and a tax bill
(CEB816) its list only by the invtNo of the list's CEB622; on Kafka they travel under other keys than those
receipts, so they may come first. Such a result waits, parked, in the service's store and is recorded
as soon as the receipt assigns the number; a sweep repairs a crash in between. Nothing is lost, nothing
is recorded twice, and a result wrong in itself is still refused naming its field.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cbec.contracts.base import ContractError
from cbec.contracts.customs import ReceiptReceived, summary_result_node
from cbec.declaration import feedback_handling, parking, parking_sweep
from cbec.declaration.application import DeclarationApp
from cbec.declaration.ports import Position
from cbec.metrics import RESULTS_PARKED, RESULTS_PARKED_OVERDUE
from cbec_testkit.samples import DECLARANT
from conftest import World, build_world, not_read_back
from export_samples import ExportClearance, export_registry, sample, summary

FEEDBACK = "cbec.feedback.inventory.receipts:0"
SUMMARY = "CEB701"
_offsets = itertools.count(1)


@pytest.fixture
def world() -> Iterator[World]:
    built = build_world(tenants=export_registry())
    yield built
    assert not_read_back(built) == []


def inventory(world: World) -> DeclarationApp:
    return world.apps["inventory"]


def deliver(world: World, message: ReceiptReceived, offset: int | None = None) -> None:
    """A message on inventory's feedback topic, handled as the consumer handles it."""
    feedback_handling.apply(inventory(world), message, Position(FEEDBACK, offset or next(_offsets)))


def summary_released(world: World, n: int) -> dict[str, Any]:
    """An export list numbered by customs (CEB604) and a summary of it, declared and released."""
    c = ExportClearance(n)
    assert world.declare("CEB603", DECLARANT, c.inventory("9610")).result == "accepted"
    assert inventory(world).release("CEB603", (DECLARANT, c.cop_no))
    assert world.receipt("CEB603", c.inventory(), 120, "20261201100000000", {"invtNo": f"INV{n}"})
    document = summary(f"SUM{n}", f"INV{n}")
    assert world.declare(SUMMARY, DECLARANT, document).result == "accepted"
    assert inventory(world).release(SUMMARY, (DECLARANT, f"SUM{n}"))
    return document


def summary_numbered(world: World, document: dict[str, Any], sum_no: str) -> bool:
    """Customs' CEB702 giving the summary its sumNo."""
    return world.receipt(SUMMARY, document, 120, "20261201100000000", {"sumNo": sum_no})


def summary_result(sum_no: str, *invt_nos: str) -> ReceiptReceived:
    """Customs' CEB792 as the customs link hands it over: it names the summary by sumNo only."""
    head = {**sample("CEB792")["SummaryResultHead"], "sumNo": sum_no, "agentCode": DECLARANT}
    lines = [{"invtNo": n, "logisticsNo": "L", "gnum": "1"} for n in invt_nos]
    return ReceiptReceived(f"sr-{sum_no}", "CEB792", SUMMARY, [], 0, head["opDate"], "",
                           summary_result_node(head, lines))


def recorded_results(world: World) -> list[dict[str, Any]]:
    """The SummaryResultRecorded events, without what differs between two runs (event ids and times)."""
    return [{k: v for k, v in d.items() if k not in ("eventId", "occurredAt")}
            for d in world.events(SUMMARY, "SummaryResultRecorded")]


def parked_results(world: World) -> list[str]:
    """Receipt ids of the results parked on an index stream (each ``ResultParked`` carrying the result)."""
    return [d["receiptId"] for _, _, t, d in world.stores["inventory"].log
            if t == parking.RESULT_PARKED and "result" in d]


def of_summaries(swept: list[parking.Waiting]) -> parking.Waiting:
    [waiting] = [w for w in swept if w.doc_type == SUMMARY]
    return waiting


def test_a_summary_result_before_its_ceb702_is_recorded_when_the_ceb702_comes_as_if_in_order() -> None:
    in_order, out_of_order = build_world(tenants=export_registry()), build_world(tenants=export_registry())

    document = summary_released(in_order, 1)
    assert summary_numbered(in_order, document, "S51652026000001")
    deliver(in_order, summary_result("S51652026000001", "INV1"))

    document = summary_released(out_of_order, 1)
    deliver(out_of_order, summary_result("S51652026000001", "INV1"))  # before the sumNo is known here
    assert recorded_results(out_of_order) == [] and parked_results(out_of_order) == ["sr-S51652026000001"]
    assert summary_numbered(out_of_order, document, "S51652026000001")

    assert recorded_results(out_of_order) == recorded_results(in_order) != []
    [recorded] = recorded_results(out_of_order)
    assert (recorded["sumNo"], recorded["invtNos"], recorded["businessKey"]) == (
        "S51652026000001", ["INV1"], [DECLARANT, "SUM1"])
    assert parking.Waiting(SUMMARY, 0, 0, 0.0) in inventory(out_of_order).sweep_parked(timedelta(days=30))
    for world in (in_order, out_of_order):
        assert not_read_back(world) == []


def test_a_result_delivered_twice_parks_once_and_is_recorded_once(world: World) -> None:
    document = summary_released(world, 2)
    result = summary_result("S51652026000002", "INV2")
    deliver(world, result, 1001)
    deliver(world, result, 1001)  # the same message redelivered
    deliver(world, result, 1002)  # a second copy of it
    assert parked_results(world) == ["sr-S51652026000002"]

    assert summary_numbered(world, document, "S51652026000002")
    deliver(world, result, 1003)  # and once more, after it was recorded
    assert len(recorded_results(world)) == 1
    unparked = [d for _, _, t, d in world.stores["inventory"].log if t == parking.RESULT_UNPARKED]
    assert len(unparked) == 2  # once on the number's index stream, once on the register


def test_a_crash_between_numbering_and_applying_is_made_good_by_the_sweep(
    world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = summary_released(world, 3)
    deliver(world, summary_result("S51652026000003", "INV3"))
    app = inventory(world)
    with monkeypatch.context() as crashed:
        crashed.setattr(app, "_unpark", lambda policy, number: None)  # the process dies after the receipt's commit
        assert summary_numbered(world, document, "S51652026000003")
    assert recorded_results(world) == []

    assert of_summaries(parking_sweep.sweep(app, max_days=30)).count == 0  # the sweep at start-up
    assert len(recorded_results(world)) == 1
    assert RESULTS_PARKED.labels(SUMMARY)._value.get() == 0
    parking_sweep.sweep(app, max_days=30)  # a later sweep records nothing again
    assert len(recorded_results(world)) == 1


def test_a_result_parked_past_the_allowed_age_raises_the_overdue_gauge_and_stays(
    world: World, caplog: pytest.LogCaptureFixture,
) -> None:
    app = inventory(world)
    parked_at = datetime(2026, 12, 1, tzinfo=UTC)
    app.now = lambda: parked_at
    deliver(world, summary_result("S51652026000404", "INV404"))  # its summary is never numbered here

    app.now = lambda: parked_at + timedelta(days=29)
    waiting = of_summaries(parking_sweep.sweep(app, max_days=30))
    assert (waiting.count, waiting.overdue) == (1, 0)

    app.now = lambda: parked_at + timedelta(days=31)
    waiting = of_summaries(parking_sweep.sweep(app, max_days=30))
    assert (waiting.count, waiting.overdue, round(waiting.oldest_days)) == (1, 1, 31)
    assert RESULTS_PARKED.labels(SUMMARY)._value.get() == 1
    assert RESULTS_PARKED_OVERDUE.labels(SUMMARY)._value.get() == 1
    assert "parked longer than 30 days" in caplog.text
    assert parked_results(world) == ["sr-S51652026000404"]  # still kept


@pytest.mark.parametrize("sum_no", ["", "S-1", "S" * 19, "汇总"])
def test_a_summary_result_whose_sum_no_is_missing_or_ill_formed_is_refused_naming_it(
    world: World, sum_no: str,
) -> None:
    with pytest.raises(ContractError) as refused:
        deliver(world, summary_result(sum_no, "INV5"))
    assert [(e.code, e.path) for e in refused.value.errors] == [("CBEC-2010", "SummaryResultHead.sumNo")]
    assert parked_results(world) == []


def test_the_sweep_runs_where_results_are_found_by_a_number(world: World) -> None:
    assert parking_sweep.sweeps(inventory(world))  # CEB792 by sumNo, CEB816/CEB818 by invtNo
    assert not any(parking_sweep.sweeps(world.apps[name]) for name in ("order", "payment", "logistics"))


class ReadCounter:
    """Counts the events the inventory's store hands out, as a broken customs side's flood makes it read."""

    def __init__(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        store = world.stores["inventory"]
        read = store.read
        self.events = 0

        def counted(stream_id: Any) -> list[tuple[str, dict[str, Any]]]:
            events = read(stream_id)
            self.events += len(events)
            return events

        monkeypatch.setattr(store, "read", counted)


def flood(world: World, count: int, start: int = 0) -> None:
    """Well-formed summary results naming sumNos no CEB702 here ever assigned."""
    for n in range(start, start + count):
        deliver(world, summary_result(f"F{n:014d}", "INV0"))


def test_a_flood_of_results_naming_unknown_numbers_is_capped_and_the_rest_dead_lettered_naming_the_rule(
    world: World,
) -> None:
    app = inventory(world)
    app.results_parked_max = 5
    document = summary_released(world, 6)
    flood(world, 4)
    deliver(world, summary_result("S51652026000006", "INV6"))  # a legitimate one, overtaking its CEB702
    with pytest.raises(ContractError) as refused:
        flood(world, 1, start=4)
    [error] = refused.value.errors
    assert (error.code, error.path) == (parking.TOO_MANY, "CEB792.sumNo")
    assert "CBEC_RESULTS_PARKED_MAX" in error.message
    assert len(parked_results(world)) == 5 and of_summaries(app.sweep_parked(timedelta(days=30))).count == 5

    assert summary_numbered(world, document, "S51652026000006")  # the legitimate one is applied: room for one
    assert len(recorded_results(world)) == 1
    assert of_summaries(app.sweep_parked(timedelta(days=30))).count == 4
    flood(world, 1, start=4)
    assert len(parked_results(world)) == 6


def test_results_flooding_one_number_are_capped_per_number(world: World) -> None:
    for n in range(parking.MAX_PER_NUMBER):
        deliver(world, ReceiptReceived(f"sr-{n}", *astuple(summary_result("S1"))[1:]))
    with pytest.raises(ContractError) as refused:
        deliver(world, ReceiptReceived("sr-one-more", *astuple(summary_result("S1"))[1:]))
    assert [e.code for e in refused.value.errors] == [parking.TOO_MANY]


def test_parking_and_applying_read_a_bounded_part_of_the_register_however_many_wait(
    world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = summary_released(world, 7)
    flood(world, 4 * parking.PAGE)
    reads = ReadCounter(world, monkeypatch)
    flood(world, 1, start=4 * parking.PAGE)
    assert reads.events <= 3 * parking.PAGE  # the last page or two, never the 1000-odd events before them

    reads.events = 0
    deliver(world, summary_result("S51652026000007", "INV7"))
    assert summary_numbered(world, document, "S51652026000007")
    assert len(recorded_results(world)) == 1
    assert reads.events <= 4 * parking.PAGE


def test_a_sweep_reads_a_bounded_number_of_pages_per_run_and_resumes_where_it_stopped(
    world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = inventory(world)
    document = summary_released(world, 8)
    flood(world, 3 * parking.PAGE)
    deliver(world, summary_result("S51652026000008", "INV8"))  # on the register's fourth page
    with monkeypatch.context() as crashed:
        crashed.setattr(app, "_unpark", lambda policy, number: None)
        assert summary_numbered(world, document, "S51652026000008")

    with monkeypatch.context() as counted:
        reads = ReadCounter(world, counted)
        app.sweep_parked(timedelta(days=30), pages=1)
        assert reads.events <= 4 * parking.PAGE + 8 * parking.PAGE  # a page, its numbers' index streams
    assert recorded_results(world) == []  # not reached yet
    for _ in range(3):
        waiting = of_summaries(app.sweep_parked(timedelta(days=30), pages=1))
    assert len(recorded_results(world)) == 1
    assert waiting.count == 3 * parking.PAGE
