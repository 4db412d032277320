"""`cbec notifications count|unblock`: an operator sees each tenant's queue and lets a blocked one go."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cbec.clock import FakeClock
from cbec.settings import Settings
from cbec.store.event_store import EventStore
from cbec_cli.main import app
from saga_service.notification_store import NotificationStore
from saga_service.notifications import Notifier
from test_notifications import PULLING, PUSHED, TENANTS, Endpoint, status
from typer.testing import CliRunner


def test_count_and_unblock_on_the_saga_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'saga.db'}"
    monkeypatch.setenv("CBEC_DATABASE_URL", url)
    events = EventStore.open(url, schema="cbec_saga", name="saga")
    notes = Notifier(NotificationStore.beside(events), TENANTS, lambda code: b"secret", post=Endpoint(down=503),
                     clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC)))
    notes.add(status(1))
    notes.add(status(2))
    notes.add(status(3, PULLING))
    notes.poll()
    runner = CliRunner()

    counted = runner.invoke(app, ["notifications", "count"])
    assert counted.exit_code == 0, counted.output
    lines = {line["tenant"]: line for line in map(json.loads, counted.output.splitlines())}
    assert lines[PUSHED]["blocked"] and lines[PUSHED]["queued"] == 2 and lines[PUSHED]["lastError"] == "HTTP 503"
    assert not lines[PULLING]["blocked"] and lines[PULLING]["queued"] == 0
    only = runner.invoke(app, ["notifications", "count", "--tenant", PULLING])
    assert [json.loads(line)["tenant"] for line in only.output.splitlines()] == [PULLING]

    unblocked = runner.invoke(app, ["notifications", "unblock", "--tenant", PUSHED])
    assert unblocked.exit_code == 0 and "unblocked" in unblocked.output
    assert not notes.count(PUSHED)[0].blocked, "the running saga sees it in its database"
    again = runner.invoke(app, ["notifications", "unblock", "--tenant", PUSHED])
    assert again.exit_code == 0 and "was not blocked" in again.output
    unknown = runner.invoke(app, ["notifications", "unblock", "--tenant", "4403999999"])
    assert unknown.exit_code == 1


def test_a_replay_stores_the_published_status_messages_again_as_new_notifications(tmp_path: Path) -> None:
    import uuid

    from cbec.store.events import Append, NewEvent
    from saga_service import domain, replay

    url = f"sqlite:///{tmp_path / 'saga.db'}"
    settings = Settings.from_environ({"CBEC_DATABASE_URL": url})
    events = EventStore.open(url, schema="cbec_saga", name="saga")
    for number, tenant in ((1, PUSHED), (2, PULLING)):
        events.append_batch([Append(uuid.uuid4(), 0, [NewEvent(domain.STATUS_PUBLISHED, {
            "clearanceKey": f"{tenant}:W{number}", "docType": "CEB311", "tenant": tenant,
            "businessKey": [tenant, f"W{number}"], "status": "customs accepted (120)", "statusCode": 120,
            "phase": "sent", "at": "2026-01-01T00:00:00+00:00"})])])
    assert replay.main(["--tenant", PUSHED], settings, TENANTS) == 0
    notes = NotificationStore.beside(events)
    [item] = notes.page(PUSHED, 0, 10)
    assert item.clearance_key == f"{PUSHED}:W1" and item.state == "queued"
    assert notes.page(PULLING, 0, 10) == []
