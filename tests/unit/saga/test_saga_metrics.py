"""The saga's gauges say what held documents wait for and which documents are past their receipt deadline,
read from rows written with the saga's events; its alerts are counted by what they are about."""

from __future__ import annotations

from cbec.contracts.events import DocumentReceived, DocumentReleased, DocumentSigningFailed
from prometheus_client import REGISTRY, CollectorRegistry
from saga_service.metrics import ALERT_KINDS, OTHER, DocumentGauges, alert_kind, rows_of
from saga_service.schedule import to_micros
from saga_story import CONTENT_HASH, DOC_TYPES, Story

WAYBILL, LIST = DOC_TYPES["waybill"], DOC_TYPES["list"]


def watched(story: Story) -> DocumentGauges:
    return DocumentGauges(story.store, story.policy, clock=story.clock, every=0).attach(story.saga)


def scrape(gauges: DocumentGauges) -> CollectorRegistry:
    registry = CollectorRegistry()
    for collector in gauges.collectors():
        registry.register(collector)
    return registry


def held(gauges: DocumentGauges) -> dict[tuple[str, str], float]:
    return {(s.labels["doc_type"], s.labels["waiting_for"]): s.value
            for m in scrape(gauges).collect() if m.name == "cbec_documents_held" for s in m.samples}


def past_deadline(gauges: DocumentGauges) -> dict[str, float]:
    return {s.labels["doc_type"]: s.value for m in scrape(gauges).collect()
            if m.name == "cbec_documents_past_receipt_deadline" for s in m.samples}


def alerts(kind: str) -> float:
    return REGISTRY.get_sample_value("cbec_saga_alerts_total", {"kind": kind}) or 0.0


def test_a_held_waybill_is_counted_under_what_it_still_waits_for() -> None:
    story = Story()
    gauges = watched(story)
    story.declare("order")
    story.declare("waybill")
    assert held(gauges) == {(WAYBILL, "order,payment"): 1}
    story.customs_accepts("order")
    assert held(gauges) == {(WAYBILL, "payment"): 1}
    story.declare("list")
    assert held(gauges) == {(WAYBILL, "payment"): 1, (LIST, "payment,waybill"): 1}
    story.declare("payment")
    story.customs_accepts("payment")
    assert held(gauges) == {(LIST, "waybill"): 1}  # the waybill was released and sent
    story.customs_accepts("waybill")
    assert held(gauges) == {}


def test_a_document_unanswered_after_its_resends_is_past_its_deadline_until_customs_answers() -> None:
    story = Story(timeout=10, max_resends=2)
    gauges = watched(story)
    before = alerts("receipt-deadline")
    story.declare("order")
    assert past_deadline(gauges) == {"CEB311": 0}  # awaited, not yet due
    story.later(10)  # resent: a new deadline
    assert past_deadline(gauges) == {"CEB311": 0}
    for _ in range(3):
        story.later(10)
    assert past_deadline(gauges) == {"CEB311": 1}
    assert alerts("receipt-deadline") == before + 1
    story.later(600)
    assert past_deadline(gauges) == {"CEB311": 1} and alerts("receipt-deadline") == before + 1
    story.customs_accepts("order")
    assert past_deadline(gauges) == {}
    assert gauges.counts() == ([], [])  # the table holds only what is in flight


def test_a_signing_failure_is_counted_as_one_alert_of_its_kind() -> None:
    story = Story()
    watched(story)
    before = alerts("signing-failed")
    order = story.about("CEB311")
    story.emit(DocumentReceived(**order, sender="3105960001", command_id="c1", content_hash=CONTENT_HASH))
    story.emit(DocumentReleased(**order, sender="3105960001", request_id="CEB311:s:2"))
    story.emit(DocumentSigningFailed(**order, request_id="CEB311:s:2",
                                     error={"code": "CBEC-SIG-EXPIRED", "message": "expired"}))
    story.later(3600)
    assert alerts("signing-failed") == before + 1


def test_a_refused_receipt_from_the_future_is_counted_as_its_kind() -> None:
    story = Story()
    watched(story)
    before = alerts("receipt-refused")
    story.declare("order")
    story.customs("order", 100, time="20990101000000000", info="forged")
    assert alerts("receipt-refused") == before + 1


def test_every_alert_the_saga_words_has_a_kind_of_its_own() -> None:
    reasons = ["no receipt for CEB311 after 2 resends",
               "CEB311 was accepted earlier, but customs sent no further receipt within 0:10:00",
               "customs answered the resent CEB311 with -301010 (already declared), but no receipt of the"
               " original ever arrived: check the document at customs",
               "a CEB312 receipt was refused and not recorded: returnTime is in the future",
               "signing CEB311 failed: the enterprise's key or certificate needs attention"]
    kinds = [alert_kind(r) for r in reasons]
    assert kinds == [kind for _, kind in ALERT_KINDS]
    assert alert_kind("something new") == OTHER


def test_a_saga_log_older_than_the_table_is_counted_once_the_table_is_made() -> None:
    story = Story()
    story.declare("order")
    story.declare("waybill")  # before any gauge existed
    gauges = watched(story)
    assert gauges.created and held(gauges) == {(WAYBILL, "order,payment"): 1}
    again = watched(story)  # a restart finds the table: no second fill
    assert not again.created and held(again) == {(WAYBILL, "order,payment"): 1}


def table_rows(gauges: DocumentGauges) -> set[tuple[object, ...]]:
    with gauges.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT clearance, kind, doc_type, held_for, receipt_due FROM {gauges.table}"
                       " WHERE clearance <> ''")
        return {tuple(row) for row in cursor.fetchall()}


def rows_as_folded(story: Story, gauges: DocumentGauges, *keys: str) -> set[tuple[object, ...]]:
    return {(r.clearance, r.kind, r.doc_type, r.held_for, to_micros(r.receipt_due) if r.receipt_due else None)
            for key in keys for r in rows_of(story.saga.load(key), story.policy)}


def test_rows_written_only_where_they_change_are_the_rows_of_the_clearance_folded_afresh() -> None:
    story = Story()
    gauges = watched(story)
    other = f"{story.key}-2"
    steps = [lambda: story.declare("order"), lambda: story.declare("waybill"),
             lambda: story.declare("order", other), lambda: story.customs_accepts("order"),
             lambda: story.declare("list"), lambda: story.later(120), lambda: story.declare("payment"),
             lambda: story.customs_accepts("payment"), lambda: story.customs_accepts("order", key=other),
             lambda: story.customs_accepts("waybill"), lambda: story.customs_accepts("list")]
    for number, step in enumerate(steps):
        step()
        if number == 5:
            story.saga._cache.clear()  # the rest of the story from folds read afresh
        assert table_rows(gauges) == rows_as_folded(story, gauges, story.key, other)


def test_a_commit_that_changes_no_document_row_writes_none() -> None:
    story = Story()
    gauges = watched(story)
    story.declare("order")
    state = story.saga.load(story.key)
    assert gauges.writes({story.key: state}, {story.key: gauges.snapshot(state)}) is None
    assert gauges.writes({story.key: state}, {}) is not None  # rows it did not have are written
