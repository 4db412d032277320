"""What the benchmark reads from cbec.out.status: first "sent", the list's release, alerts; only its own."""

from __future__ import annotations

from cbec_testkit.load.watch import StatusWatch


def _status(key: str, doc_type: str, phase: str, code: int | None, **extra: object) -> dict[str, object]:
    return {"schema": "cbec.status/1", "clearanceKey": key, "docType": doc_type, "phase": phase,
            "statusCode": code, **extra}


def test_the_first_sent_and_the_lists_release_are_timed_and_later_messages_do_not_move_them() -> None:
    watch = StatusWatch()
    watch.expect(["P:1"])
    watch.observe(_status("P:1", "CEB621", "held", None), 1.0)
    watch.observe(_status("P:1", "CEB621", "sent", None), 2.0)
    watch.observe(_status("P:1", "CEB621", "sent", 120), 3.0)
    watch.observe(_status("P:1", "CEB621", "sent", 800), 4.0)
    watch.observe(_status("P:1", "CEB621", "sent", 800), 5.0)
    assert watch.sent == {("P:1", "CEB621"): 2.0}
    assert watch.released == {"P:1": 4.0}
    assert watch.missing() == []


def test_a_receipt_without_a_sent_message_still_counts_as_sent() -> None:
    watch = StatusWatch()
    watch.expect(["P:1"])
    watch.observe(_status("P:1", "CEB311", "", 120), 7.0)
    assert watch.sent == {("P:1", "CEB311"): 7.0}


def test_alerts_and_rejections_are_kept_and_other_runs_clearances_ignored() -> None:
    watch = StatusWatch()
    watch.expect(["P:1", "P:2"])
    watch.observe(_status("P:1", "CEB511", "sent", None, type="ClearanceAlert", reason="no receipt"), 1.0)
    watch.observe(_status("P:2", "CEB311", "sent", 100), 1.0)
    watch.observe(_status("OLD:9", "CEB621", "sent", 800), 1.0)
    assert [a["reason"] for a in watch.alerts] == ["no receipt"]
    assert [r["clearanceKey"] for r in watch.rejections] == ["P:2"]
    assert watch.released == {} and watch.missing() == ["P:1", "P:2"]


def test_an_alerted_clearance_is_settled_so_the_run_stops_waiting_for_it() -> None:
    watch = StatusWatch()
    watch.expect(["P:1", "P:2", "P:3"])
    watch.observe(_status("P:1", "CEB621", "sent", 800), 1.0)
    watch.observe(_status("P:2", "CEB621", "sent", None, type="ClearanceAlert", reason="no receipt"), 2.0)
    assert watch.settled() == 2 and watch.missing() == ["P:2", "P:3"]
