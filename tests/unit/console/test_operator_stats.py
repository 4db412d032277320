"""The operator view's windowed figures: what each message adds, tumbling windows and their horizon, receipts
missing past their deadline, and the page (charts with a table alternative, for platform operators only)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cbec.bus.in_process import InProcessBus
from cbec.contracts import topics
from cbec_testkit.samples import parties
from cbec_testkit.tenants import demo_registry
from console_service.accounts import ConsoleRole, Environment, MemoryAccounts, Passwords, User
from console_service.app import ConsoleConfig, create_app
from console_service.operator_stats import (
    LAG,
    PHASES,
    REJECTIONS,
    BusFeed,
    MemoryStats,
    fold,
    pending_key,
    summarize,
    window_start,
)
from console_service.operator_view import bar_chart
from fastapi.testclient import TestClient

PLATFORM, PAYMENT = parties.PLATFORM, parties.PAYMENT_COMPANY
NOON = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
PASSWORD = "a-long-enough-password"


def status(tenant: str, phase: str, code: int | None, at: datetime, errors: list[dict[str, str]] | None = None,
           order: str = "SO1") -> bytes:
    data: dict[str, Any] = {"schema": "cbec.status/1", "eventId": f"e-{order}-{phase}", "tenant": tenant,
                            "clearanceKey": f"{PLATFORM}:{order}", "docType": "CEB311", "businessKey": [order],
                            "status": phase, "statusCode": code, "phase": phase, "occurredAt": at.isoformat()}
    if errors:
        data["errors"] = errors
    return json.dumps(data).encode()


def sent(order: str, at: datetime) -> bytes:
    return json.dumps({"request_id": "r", "doc_type": "CEB311", "clearance_key": f"{PLATFORM}:{order}",
                       "file_name": "f.xml", "cop_msg_id": "", "sent_at": at.isoformat()}).encode()


def receipt(order: str) -> bytes:
    return json.dumps({"receipt_id": "x", "receipt_type": "CEB312", "doc_type": "CEB311", "business_key": [order],
                       "return_status": 2, "return_time": "", "return_info": "",
                       "node": {"clearanceKey": f"{PLATFORM}:{order}"}}).encode()


TRANSMISSIONS = topics.feedback("order", topics.FEEDBACK_SENT)
RECEIPTS = topics.feedback("order", topics.FEEDBACK_RECEIPTS)


def test_a_customs_rejection_counts_by_each_finding_code_and_its_lag_is_measured() -> None:
    message = status(PLATFORM, "rejected", 100, NOON, errors=[{"code": "1001", "path": "a", "rule": "r",
                                                               "message": "m"}])
    change = fold(topics.STATUS, message, NOON + timedelta(seconds=3))
    assert change.counts == ((PHASES, f"{PLATFORM}\trejected"), (REJECTIONS, f"{PLATFORM}\t1001"))
    assert change.lag == 3.0
    without_findings = fold(topics.STATUS, status(PLATFORM, "sent", -301010, NOON), NOON)
    assert (REJECTIONS, f"{PLATFORM}\t-301010") in without_findings.counts


def test_messages_that_are_not_json_objects_or_name_no_tenant_change_nothing() -> None:
    for value in (b"\xff", b"[1]", json.dumps({"phase": "sent"}).encode()):
        assert fold(topics.STATUS, value, NOON).counts == ()
    assert fold(topics.WEBHOOK_DEAD_LETTERS, b"{}", NOON).counts == ()


def test_tumbling_windows_add_up_within_the_horizon_and_older_ones_are_dropped() -> None:
    stats = MemoryStats()
    stats.feed(topics.STATUS, status(PLATFORM, "sent", 2, NOON), NOON)
    stats.feed(topics.STATUS, status(PLATFORM, "sent", 2, NOON, order="SO2"), NOON + timedelta(minutes=1))
    stats.feed(topics.STATUS, status(PAYMENT, "released", 800, NOON), NOON + timedelta(minutes=7))
    figures = stats.figures(NOON + timedelta(minutes=8))
    assert figures.phases[PLATFORM]["sent"] == 2 and figures.phases[PAYMENT]["released"] == 1
    assert sorted(figures.per_window.values()) == [1, 2]  # two 5-minute windows
    assert window_start(NOON + timedelta(minutes=7)) in figures.per_window
    much_later = NOON + timedelta(hours=3)
    stats.feed(topics.STATUS, status(PAYMENT, "sent", 2, much_later), much_later)
    later = stats.figures(much_later)
    assert PLATFORM not in later.phases and later.phases[PAYMENT] == {"sent": 1}
    assert all(key[2] >= window_start(much_later) - 2 * 3600 for key in stats.windowed)  # expired ones are gone


def test_a_transmission_without_a_receipt_is_overdue_after_the_deadline_and_a_receipt_clears_it() -> None:
    stats = MemoryStats()
    stats.feed(TRANSMISSIONS, sent("SO1", NOON), NOON)
    stats.feed(TRANSMISSIONS, sent("SO2", NOON), NOON)
    assert stats.figures(NOON + timedelta(minutes=10)).overdue[PLATFORM] == 0
    stats.feed(RECEIPTS, receipt("SO2"), NOON + timedelta(minutes=20))
    assert pending_key(f"{PLATFORM}:SO2", "CEB311") not in stats.pending
    assert stats.figures(NOON + timedelta(minutes=31)).overdue[PLATFORM] == 1


def test_webhook_dead_letters_count_per_tenant_and_lag_is_the_windows_maximum() -> None:
    stats = MemoryStats()
    letter = json.dumps({"deliveryId": "d", "messageId": "m", "tenant": PAYMENT, "url": "https://x", "body": "{}",
                         "attempts": 5, "error": "HTTP 404"}).encode()
    stats.feed(topics.WEBHOOK_DEAD_LETTERS, letter, NOON)
    stats.feed(topics.STATUS, status(PAYMENT, "sent", 2, NOON - timedelta(seconds=9)), NOON)
    stats.feed(topics.STATUS, status(PAYMENT, "sent", 2, NOON - timedelta(seconds=2)), NOON)
    figures = stats.figures(NOON)
    assert figures.webhooks[PAYMENT] == 1 and figures.lag == 9.0


def test_summarize_reads_faust_style_rows_and_skips_windows_before_the_horizon() -> None:
    now = NOON
    rows = [(PHASES, f"{PLATFORM}\tsent", window_start(now), 4.0),
            (PHASES, f"{PLATFORM}\tsent", window_start(now - timedelta(hours=2)), 50.0),
            (LAG, LAG, window_start(now), 1.5)]
    figures = summarize(rows, [("k", f"{PLATFORM}\t{(now - timedelta(hours=1)).isoformat()}")], now)
    assert figures.phases[PLATFORM]["sent"] == 4 and figures.lag == 1.5 and figures.overdue[PLATFORM] == 1


def test_a_bus_feed_reads_only_new_messages_of_the_topics_it_folds() -> None:
    bus = InProcessBus()
    feed = BusFeed(bus)
    bus.publish(topics.STATUS, "k", status(PLATFORM, "sent", 2, datetime.now(UTC)))
    bus.publish(topics.tenant_status(PLATFORM), "k", status(PLATFORM, "sent", 2, datetime.now(UTC)))  # a copy
    assert feed.figures().phases[PLATFORM]["sent"] == 1
    assert feed.figures().phases[PLATFORM]["sent"] == 1  # read once


def test_the_chart_is_an_svg_image_named_by_its_title_with_escaped_labels() -> None:
    svg = str(bar_chart("c", "Rejections <by code>", [("<b>", 3.0), ("1001", 1.0)]))
    assert svg.startswith('<svg class="chart" id="c" role="img" aria-labelledby="c-t"')
    assert "<title id=\"c-t\">Rejections &lt;by code&gt;</title>" in svg and "<b>" not in svg
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([0-9.]+)"', svg)]
    assert widths[0] == pytest.approx(3 * widths[1], abs=0.2)


def _client(stats: MemoryStats) -> TestClient:
    passwords, accounts = Passwords(), MemoryAccounts()
    accounts.add_user(User("pay", passwords.hash(PASSWORD), {PAYMENT: ConsoleRole.ADMIN}))
    accounts.add_user(User("ops", passwords.hash(PASSWORD), {}, platform_operator=True))
    config = ConsoleConfig("unit-test-secret", demo_registry(), accounts, {Environment.SANDBOX: None},
                           passwords=passwords, https_only=False, operator_stats={Environment.SANDBOX: stats})
    return TestClient(create_app(config))


def _log_in(client: TestClient, user: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    answer = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token.group(1)},
                         follow_redirects=False)
    assert answer.status_code == 303


def test_the_operator_page_draws_the_windows_as_charts_with_tables_and_refuses_enterprise_users() -> None:
    stats = MemoryStats()
    now = datetime.now(UTC)
    stats.feed(topics.STATUS, status(PAYMENT, "rejected", 100, now, errors=[{"code": "1001", "path": "p",
                                                                          "rule": "r", "message": "m"}]), now)
    enterprise, operator = _client(stats), _client(stats)
    _log_in(enterprise, "pay")
    assert enterprise.get("/operator").status_code == 403
    _log_in(operator, "ops")
    page = operator.get("/operator")
    assert page.status_code == 200
    assert page.text.count('role="img"') >= 3 and 'id="chart-codes"' in page.text
    codes_table = page.text.split('id="table-codes"')[1].split("</table>")[0]
    assert "<td>1001</td><td>1</td>" in codes_table
    assert f"({PAYMENT})" in page.text.split('id="table-tenants"')[1]


def test_the_console_runs_the_faust_agent_for_production_when_asked_and_the_sandbox_reads_its_bus() -> None:
    from cbec.settings import Settings
    from console_service.bootstrap import process
    from console_service.operator_agent import OperatorAgent

    plain = process(Settings.from_environ({}), demo_registry())
    assert plain.agents == [] and Environment.PRODUCTION not in plain.config.operator_stats
    asked = process(Settings.from_environ({"CBEC_CONSOLE_OPERATOR_STATS": "kafka",
                                           "CBEC_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}), demo_registry())
    [agent] = asked.agents
    assert isinstance(agent, OperatorAgent) and asked.config.operator_stats[Environment.PRODUCTION] is agent
    assert set(agent.source_topics) >= {topics.STATUS, topics.WEBHOOK_DEAD_LETTERS, RECEIPTS, TRANSMISSIONS}


def test_the_console_process_serves_the_probes_and_metrics_every_cbec_process_serves() -> None:
    from cbec.settings import Settings
    from console_service.bootstrap import process

    app = process(Settings.from_environ({}), demo_registry()).app()
    with TestClient(app) as client:
        assert client.get("/livez").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").headers["content-type"].startswith("text/plain")
    assert TestClient(app).get("/readyz").status_code == 503  # not started (no lifespan): not ready
