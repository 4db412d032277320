"""The chart's PrometheusRule and Grafana dashboard read only metrics the code exposes, and every alert
leads to its runbook subsection.

The exposed names are collected from the code itself: the services' metric modules are imported and the
process registry read (what they register at import), and the collectors they add per process (the outbox
backlog, the saga's notification and document gauges, the signer's figures) are instantiated and rendered
here, so renaming a metric in the code fails these tests until the rule and the dashboard follow."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any, cast

import jsonschema
import pytest
from crd_schemas import CRD_SCHEMAS
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from rendered import BUILD_TIMEOUT, CHART, ROOT, of_kind, render, render_error

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 600)  # the first test may build helm (minutes)

DASHBOARD = CHART / "dashboards" / "cbec.json"
RUNBOOK = ROOT / "docs" / "runbook.md"
# Series Prometheus writes itself for every target (not the code's): the scrape's health.
PROMETHEUS_OWN = {"up"}


# -- what the code exposes -----------------------------------------------------------------------------

def _series_of(families: Iterable[Metric]) -> set[str]:
    """Every series name the families can carry, also for a family that has no sample yet (a labelled
    metric before its first use): a counter's ``_total``, a histogram's ``_bucket``/``_count``/``_sum``."""
    names: set[str] = set()
    for family in families:
        names |= {sample.name for sample in family.samples}
        names |= {
            "counter": {f"{family.name}_total"},
            "histogram": {f"{family.name}_{end}" for end in ("bucket", "count", "sum")},
        }.get(family.type, {family.name})
    return names


def _names_in(text: str) -> set[str]:
    return _series_of(text_string_to_metric_families(text))


def _rendered(collectors: list[Collector]) -> str:
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry).decode()


def exposed_metric_names() -> set[str]:
    import saga_service.metrics  # noqa: F401 - registers the saga's alert counter
    import signer_service.metrics  # noqa: F401
    from cbec import metrics
    from cbec.signing.pool import PoolStats
    from prometheus_client import REGISTRY
    from saga_service.bootstrap import notification_gauges
    from saga_service.metrics import DocumentGauges
    from signer_service.metrics import SignerMetrics

    process = _series_of(REGISTRY.collect())  # what the imported modules registered
    per_process = [metrics.outbox_backlog([]), metrics.loop_busy(list)]
    state = SimpleNamespace(tenant="3105960001", blocked=True, queued=2)
    notes = SimpleNamespace(store=SimpleNamespace(states=lambda: [state]))
    saga = cast(list[Collector], notification_gauges(cast(Any, notes)))
    saga += DocumentGauges.collectors(cast(Any, SimpleNamespace(counts=lambda: (
        [(("CEB511", "order,payment"), 1.0)], [(("CEB311",), 1.0)]))))
    signer = SignerMetrics()
    signer.record_sign(0.01)
    signer.record_error("expired")
    pools = {"3105960001": PoolStats(size=2, connected=2, in_use=1, waiting=0, signs=1, reconnects=0, failures=0)}
    expiries = {"3105960001": 40 * 86400.0}
    texts = [_rendered(per_process), _rendered(saga),
             signer.render(pools, expiries, per_tenant=True), signer.render(pools, expiries, per_tenant=False)]
    return process | set().union(*(_names_in(t) for t in texts))


EXPOSED = exposed_metric_names()


# -- what a PromQL expression reads ----------------------------------------------------------------------
# A small scanner, not a PromQL parser (none is packaged for Python here): it drops strings, label
# matchers, ranges and label lists, then keeps the identifiers that are not functions or keywords.

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool"}
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = _LABEL_LIST.sub(" ", bare)
    return {m.group(1) for m in _IDENTIFIER.finditer(bare) if not m.group(2) and m.group(1) not in _KEYWORDS}


def test_the_scanner_finds_the_metrics_of_an_expression_and_nothing_else() -> None:
    expr = ('sum by (group) (rate(a_total{x="b(c)"}[5m] offset 5m)) > 1e+06 and on() '
            '(histogram_quantile(0.99, b_bucket{n="$namespace"}[$__rate_interval]) or on() vector(0)) == c')
    assert metric_names(expr) == {"a_total", "b_bucket", "c"}


def test_the_exposed_names_come_from_the_code() -> None:
    """The collection sees each kind of metric: a shared counter, a histogram, a sampled gauge, the
    saga's and the signer's (so a rename in any of them changes this set)."""
    assert {"cbec_messages_handled_total", "cbec_receipt_delay_seconds_bucket", "cbec_outbox_backlog",
            "cbec_consumer_lag", "cbec_notification_circuit_open", "cbec_signer_sign_seconds_bucket",
            "cbec_documents_held", "cbec_documents_past_receipt_deadline", "cbec_saga_alerts_total",
            "cbec_signer_certificate_days_to_expiry_min", "cbec_signer_pool_in_use"} <= EXPOSED
    assert "cbec_messages_handled" not in EXPOSED  # a counter is read by its _total series


# -- the rule --------------------------------------------------------------------------------------------

def _rule() -> dict[str, Any]:
    [rule] = of_kind(render("prod"), "PrometheusRule")
    return rule


def _alerts() -> list[dict[str, Any]]:
    return [r for group in _rule()["spec"]["groups"] for r in group["rules"] if "alert" in r]


def test_the_rule_renders_in_prod_and_matches_the_prometheus_rule_schema() -> None:
    rule = _rule()
    jsonschema.validate(rule, CRD_SCHEMAS["PrometheusRule"]["monitoring.coreos.com/v1"])


def test_dev_renders_no_rule_and_no_dashboard_unless_asked() -> None:
    dev = render("dev")
    assert of_kind(dev, "PrometheusRule") == []
    assert [d for d in of_kind(dev, "ConfigMap") if d["metadata"]["name"] == "cbec-dashboards"] == []
    asked = render("dev", "metrics.prometheusRule.enabled=true", "metrics.dashboards.enabled=true")
    assert len(of_kind(asked, "PrometheusRule")) == 1


def test_the_prometheus_rule_schema_refuses_a_rule_without_an_expression() -> None:
    rule = _rule()
    broken = {**rule, "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "for": "5m"}]}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, CRD_SCHEMAS["PrometheusRule"]["monitoring.coreos.com/v1"])


# The issue's alerts, each with the metric it must read.
REQUIRED_ALERTS = {
    "CbecConsumerLagHigh": "cbec_consumer_lag",
    "CbecOutboxBacklogGrowing": "cbec_outbox_backlog",
    "CbecReceiptDelayHigh": "cbec_receipt_delay_seconds_bucket",
    "CbecReceiptsPastDeadline": "cbec_documents_past_receipt_deadline",
    "CbecReceiptsSilent": "cbec_receipt_delay_seconds_count",
    "CbecCertificateExpiresSoon": "cbec_signer_certificate_days_to_expiry_min",
    "CbecDeadLettersGrowing": "cbec_messages_dead_lettered_total",
    "CbecTargetDown": "up",
    "CbecServiceAbsent": "up",
    "CbecNotificationCircuitOpen": "cbec_notification_circuit_open",
}


def test_the_issue_alerts_are_there_each_reading_its_metric() -> None:
    reads = {a["alert"]: metric_names(a["expr"]) for a in _alerts()}
    for alert, metric in REQUIRED_ALERTS.items():
        assert metric in reads.get(alert, set()), f"{alert} must read {metric}"


def test_every_metric_an_alert_reads_is_one_the_code_exposes() -> None:
    for alert in _alerts():
        unknown = metric_names(alert["expr"]) - EXPOSED - PROMETHEUS_OWN
        assert not unknown, f"{alert['alert']} reads {unknown}, which no cbec process exposes"


def test_a_service_is_missed_when_none_of_its_pods_is_scraped() -> None:
    absent = {a["labels"]["service"] for a in _alerts() if a["alert"] == "CbecServiceAbsent"}
    assert absent == {"order", "payment", "logistics", "inventory", "signer", "receipts", "saga"}


def _runbook_anchors() -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", RUNBOOK.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_alert_has_a_severity_and_a_runbook_subsection() -> None:
    anchors = _runbook_anchors()
    for alert in _alerts():
        assert alert["labels"]["severity"] in {"warning", "critical"}, alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
        url, _, anchor = alert["annotations"]["runbook_url"].partition("#")
        assert url == "docs/runbook.md", alert["alert"]  # no base URL set: the path in the source tree
        assert anchor == alert["alert"].lower() or alert["alert"] == "CbecCertificateExpiresVerySoon"
        assert anchor in anchors, f"{alert['alert']}: docs/runbook.md has no heading #{anchor}"


def test_runbook_links_lead_to_the_runbook_where_the_repository_is_served() -> None:
    docs = render("prod", "metrics.prometheusRule.runbookBaseUrl=https://git.corp.example/cbec/-/blob/v0.1.0/")
    [rule] = of_kind(docs, "PrometheusRule")
    links = {r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "https://git.corp.example/cbec/-/blob/v0.1.0/docs/runbook.md#cbecreceiptspastdeadline" in links
    assert all(link.startswith("https://git.corp.example/cbec/-/blob/v0.1.0/docs/runbook.md#") for link in links)


def test_a_runbook_base_that_is_not_a_url_is_refused() -> None:
    assert "runbookBaseUrl" in render_error("prod", "metrics.prometheusRule.runbookBaseUrl=git.corp.example/cbec")


def test_the_runbook_anchor_check_tells_a_missing_heading() -> None:
    anchors = _runbook_anchors()
    assert "cbecconsumerlaghigh" in anchors and "cbecnosuchalert" not in anchors


def test_the_thresholds_are_values() -> None:
    docs = render("prod", "metrics.prometheusRule.thresholds.consumerLag=77",
                  "metrics.prometheusRule.thresholds.certificateDays=45",
                  "metrics.prometheusRule.thresholds.circuitOpenFor=2h")
    [rule] = of_kind(docs, "PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert alerts["CbecConsumerLagHigh"]["expr"].endswith("> 77")
    assert alerts["CbecCertificateExpiresSoon"]["expr"].endswith("< 45")
    assert alerts["CbecNotificationCircuitOpen"]["for"] == "2h"


# -- the dashboard ---------------------------------------------------------------------------------------

def _dashboard() -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(DASHBOARD.read_text(encoding="utf-8")))


def _queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def test_the_dashboard_is_valid_json_and_its_datasource_is_templated() -> None:
    dashboard = _dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    templated = {"type": "prometheus", "uid": "${datasource}"}
    for panel in dashboard["panels"]:
        assert panel["datasource"] == templated, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == templated, panel["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_every_metric_a_dashboard_panel_queries_is_one_the_code_exposes() -> None:
    for expr in _queries(_dashboard()):
        unknown = metric_names(expr) - EXPOSED
        assert not unknown, f"the dashboard queries {unknown}, which no cbec process exposes: {expr}"


def test_the_dashboard_shows_what_the_issue_asks() -> None:
    read = set().union(*(metric_names(q) for q in _queries(_dashboard())))
    assert {"cbec_messages_handled_total", "cbec_handler_errors_total", "cbec_consumer_lag", "cbec_outbox_backlog",
            "cbec_receipt_delay_seconds_bucket", "cbec_signer_sign_seconds_bucket", "cbec_signer_pool_in_use",
            "cbec_signer_certificate_days_to_expiry_min", "cbec_notification_circuit_open",
            "cbec_messages_dead_lettered_total", "cbec_documents_held", "cbec_documents_past_receipt_deadline",
            "cbec_saga_alerts_total"} <= read


def test_the_dashboard_ships_in_a_config_map_the_grafana_sidecar_loads() -> None:
    [config_map] = [d for d in of_kind(render("prod"), "ConfigMap") if d["metadata"]["name"] == "cbec-dashboards"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["cbec.json"]) == _dashboard()

