"""The operator view learns of every notification circuit change: the saga stores one when a tenant's
callback fails (open, with its probe's due time), when a probe fails again (open, one more probe), and
when the tenant is unblocked (closed: by its probe's answer, by an operator over HTTP or with the CLI);
its relay publishes them on cbec.ops.notification-circuits, keyed by the tenant."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from cbec.clock import FakeClock
from cbec.contracts.circuits import CircuitChanged
from cbec.contracts.topics import NOTIFICATION_CIRCUITS
from cbec.store.event_store import EventStore
from cbec_cli.notifications import unblock_line
from saga_service import circuits
from test_notifications import PUSHED, START, Endpoint, database, notifier, status


def published(events: EventStore) -> list[CircuitChanged]:
    out = []
    for event in events.notifications(1, 1000):
        for topic, key, value in circuits.route(event):
            assert topic == NOTIFICATION_CIRCUITS and key == PUSHED
            out.append(CircuitChanged.from_json(value))
    return out


def test_a_circuit_opens_on_failure_counts_its_failed_probes_and_closes_when_the_probe_is_answered(
    tmp_path: Path
) -> None:
    clock, endpoint = FakeClock(START), Endpoint(down=503)
    notes, events = notifier(database(tmp_path), endpoint, clock)
    notes.add(status(1))
    notes.poll()
    [opened] = published(events)
    assert (opened.state, opened.probes, opened.error) == ("open", 1, "HTTP 503")
    assert opened.blocked_since == START.isoformat() and opened.probe_due == (START + timedelta(seconds=2)).isoformat()

    clock.advance(seconds=2)
    notes.poll()  # the probe fails again
    again = published(events)[-1]
    assert (again.state, again.probes, again.blocked_since) == ("open", 2, START.isoformat())
    assert datetime.fromisoformat(again.probe_due) > datetime.fromisoformat(opened.probe_due)

    endpoint.down = None
    clock.advance(datetime.fromisoformat(again.probe_due) - clock.now())
    notes.poll()
    closed = published(events)[-1]
    assert (closed.state, closed.probes, closed.probe_due, closed.error) == ("closed", 0, "", "")
    assert len(published(events)) == 3
    notes.add(status(2))
    notes.poll()  # delivered at once: nothing changes
    assert len(published(events)) == 3


def test_an_operators_unblock_closes_the_circuit_over_http_and_with_the_cli(tmp_path: Path) -> None:
    clock, endpoint = FakeClock(START), Endpoint(down=503)
    notes, events = notifier(database(tmp_path), endpoint, clock)
    notes.add(status(1))
    notes.poll()
    assert notes.unblock(PUSHED)
    assert [c.state for c in published(events)] == ["open", "closed"]

    clock.advance(seconds=1)
    notes.poll()  # still down: open again
    assert unblock_line(notes.store, PUSHED, events)[0] == 0
    assert [c.state for c in published(events)] == ["open", "closed", "open", "closed"]
    assert unblock_line(notes.store, PUSHED, events) == (0, f"{PUSHED}: was not blocked")
    assert len(published(events)) == 4


def test_a_restart_announces_each_circuit_as_it_is_so_a_change_lost_in_a_crash_is_repaired(
    tmp_path: Path
) -> None:
    clock, endpoint = FakeClock(START), Endpoint(down=503)
    db = database(tmp_path)
    notes, events = notifier(db, endpoint, clock)
    notes.add(status(1))
    notes.poll()
    # The crash: the breaker's row says blocked, but its change never reached the store.
    notes.store.unblock(PUSHED)
    notes.store.block(PUSHED, clock.now(), clock.now() + timedelta(seconds=4), "HTTP 502")
    assert [c.state for c in published(events)] == ["open"]

    clock.advance(seconds=1)
    assert notes.announce_circuits() == 1
    latest = published(events)[-1]
    assert (latest.state, latest.error, latest.changed_at) == ("open", "HTTP 502", clock.now().isoformat())

    notes.store.unblock(PUSHED)  # unblocked, and that change lost too
    clock.advance(seconds=1)
    notes.announce_circuits()
    assert published(events)[-1].state == "closed"
