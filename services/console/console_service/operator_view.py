"""The operator view: per tenant through the platform's listing API (documents per phase, rejections by
document type, documents waiting for customs past a deadline), the stream figures of the last hour
from the windowed tables of :mod:`console_service.operator_stats` (status changes per tenant and phase,
rejections by code, receipts missing past their deadline, webhook dead letters, open and half-open
notification circuits, the status pipeline's delay), and the consumer groups' lag
(:mod:`console_service.consumer_lag`), drawn as SVG bar charts with the same numbers in tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cbec.tenants import TenantRegistry
from markupsafe import Markup, escape

from console_service.consumer_lag import LagSample
from console_service.operator_stats import OperatorFigures, StatsSource
from console_service.platform import Platform

WAITING_PHASES = frozenset({"sent", "signing", "held", "received"})
SCAN = 200  # documents per tenant and type looked at (the newest)


@dataclass
class TenantFigures:
    code: str
    name: str
    phases: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)  # doc type -> rejections
    overdue: int = 0


async def figures(platform: Platform, tenants: TenantRegistry, doc_types: dict[str, list[str]],
                  overdue_after: timedelta = timedelta(minutes=30), now: datetime | None = None) -> list[TenantFigures]:
    now = now or datetime.now(UTC)
    out = []
    for tenant in sorted(tenants.all(), key=lambda t: t.customs_code):
        row = TenantFigures(tenant.customs_code, tenant.name)
        for doc_type in doc_types.get(tenant.customs_code, []):
            reply = await platform.listing(tenant.customs_code, doc_type, {"limit": str(SCAN)})
            for item in reply.body.get("items", []) if reply.ok else []:
                row.phases[str(item.get("phase"))] += 1
                if item.get("statusCode") == 100 or item.get("phase") == "rejected":
                    row.rejected[doc_type] += 1
                updated = datetime.fromisoformat(str(item.get("updatedAt")))
                if item.get("phase") in WAITING_PHASES and now - updated > overdue_after:
                    row.overdue += 1
        out.append(row)
    return out


# -- the stream figures (operator_stats) and their charts --------------------------------------------

BAR_HEIGHT, LABEL_WIDTH, CHART_WIDTH = 22, 190, 560


def bar_chart(chart_id: str, title: str, bars: list[tuple[str, float]], unit: str = "") -> Markup:
    """A horizontal bar chart as inline SVG: ``role="img"`` named by its ``<title>``, each bar with its own
    ``<title>`` and its value written next to it; the page puts the same numbers in a table beside it."""
    top = max((value for _, value in bars), default=0) or 1
    height = BAR_HEIGHT * max(len(bars), 1) + 8
    span = CHART_WIDTH - LABEL_WIDTH - 60
    parts = [f'<svg class="chart" id="{escape(chart_id)}" role="img" aria-labelledby="{escape(chart_id)}-t" '
             f'viewBox="0 0 {CHART_WIDTH} {height}" width="{CHART_WIDTH}" height="{height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="{escape(chart_id)}-t">{escape(title)}</title>']
    for n, (label, value) in enumerate(bars):
        y = 4 + n * BAR_HEIGHT
        width = max(1.0, span * value / top) if value else 0.0
        shown = f"{value:g}{unit}"
        parts.append(f'<g class="bar"><title>{escape(label)}: {escape(shown)}</title>'
                     f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" height="{BAR_HEIGHT - 6}"></rect>'
                     f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 15}">{escape(shown)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass
class StreamView:
    """What the operator page shows of the stream figures: the figures, charts and their table rows."""

    figures: OperatorFigures
    charts: dict[str, Markup]
    per_phase: list[tuple[str, float]]
    per_code: list[tuple[str, float]]
    per_window: list[tuple[str, float]]


def stream_view(source: StatsSource | None, t: Callable[[str], str],
                now: datetime | None = None) -> StreamView | None:
    """The stream figures of ``source`` (None: no agent for this environment) with their charts."""
    if source is None:
        return None
    found = source.figures(now)
    phases: Counter[str] = Counter()
    for counts in found.phases.values():
        phases.update(counts)
    codes: Counter[str] = Counter()
    for counts in found.rejections.values():
        codes.update(counts)
    per_phase = [(phase, float(n)) for phase, n in sorted(phases.items())]
    per_code = [(code, float(n)) for code, n in codes.most_common(12)]
    per_window = [(datetime.fromtimestamp(start, UTC).strftime("%H:%M"), float(n))
                  for start, n in sorted(found.per_window.items())]
    charts = {"phases": bar_chart("chart-phases", t("operator.chart.phases"), per_phase),
              "codes": bar_chart("chart-codes", t("operator.chart.codes"), per_code),
              "windows": bar_chart("chart-windows", t("operator.chart.windows"), per_window)}
    return StreamView(found, charts, per_phase, per_code, per_window)


@dataclass
class LagView:
    """The consumer groups' lag: the latest sample per group and topic, and the totals of the last hour."""

    sample: LagSample
    charts: dict[str, Markup]
    per_group: list[tuple[str, float]]
    rows: list[tuple[str, str, int]]  # (group, topic, messages behind)
    history: list[tuple[str, float]]


def lag_view(samples: list[LagSample], t: Callable[[str], str]) -> LagView | None:
    """The view of ``samples`` (oldest first; None when there is none yet)."""
    if not samples:
        return None
    latest = samples[-1]
    per_group = [(group, float(n)) for group, n in sorted(latest.per_group().items())]
    rows = [(group, topic, n) for (group, topic), n in sorted(latest.lag.items())]
    history = [(s.at.strftime("%H:%M:%S"), float(s.total)) for s in samples]
    charts = {"lag": bar_chart("chart-lag", t("operator.chart.lag"), per_group),
              "lag-history": bar_chart("chart-lag-history", t("operator.chart.lag-history"), history)}
    return LagView(latest, charts, per_group, rows, history)
