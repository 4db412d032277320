"""The faust-streaming agent of the operator view: one agent over the status, webhook dead-letter,
notification-circuit and transmission/receipt feedback topics (:data:`operator_stats.SOURCE_TOPICS`)
keeping tumbling windowed tables (``WINDOW`` wide, expiring after ``HORIZON``), a table of documents
waiting for a receipt and a table of each tenant's latest circuit change.

It runs in the console process (:mod:`console_service.bootstrap`, ``CBEC_CONSOLE_OPERATOR_STATS=kafka``),
whose operator page reads the tables directly: they are that page's read model, nothing else uses them,
and a process of their own would only add a port and an API to carry them. The agent's group is fixed
(``cbec-console-operator``), so the console runs one replica; its tables are in memory and rebuilt from
their changelog topics on a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import faust
from cbec.bus.faust_app import make_app

from console_service.operator_stats import (
    HORIZON,
    LAG,
    SEP,
    SOURCE_TOPICS,
    WINDOW,
    WINDOWED,
    OperatorFigures,
    fold,
    keep_latest,
    summarize,
)

APP_ID = "cbec-console-operator"
log = logging.getLogger(__name__)


class OperatorAgent:
    """The faust app, its tables and its agent; :meth:`figures` reads the tables (a :class:`StatsSource`)."""

    def __init__(self, app: faust.App, source_topics: Mapping[str, str] | None = None) -> None:
        """``source_topics``: the topics read, each with the name :func:`fold` knows it by (tests read
        prefixed copies); by default :data:`SOURCE_TOPICS` as they are."""
        self.app = app
        self.source_topics = dict(source_topics or {name: name for name in SOURCE_TOPICS})
        self.windowed: dict[str, Any] = {
            name: app.Table(f"operator-{name}", default=float).tumbling(WINDOW, expires=HORIZON + WINDOW)
            for name in WINDOWED}
        self.pending = app.Table("operator-pending", default=str)
        self.circuits = app.Table("operator-circuits", default=str)  # tenant -> its latest CircuitChanged
        topic = app.topic(*self.source_topics, key_serializer="raw", value_serializer="raw")
        self.seen = 0
        app.agent(topic, name="operator-stats", concurrency=1)(self._consume)

    async def _consume(self, stream: Any) -> None:
        async for event in stream.events():
            name = self.source_topics.get(event.message.topic, event.message.topic)
            try:
                change = fold(name, event.value or b"", datetime.now(UTC))
            except Exception:  # fold skips what it can read as wrong; anything else must not stop the agent
                log.exception("%s: a message that could not be read skipped", name)
                continue
            # A windowed key is written only by the messages of one source partition (its changelog
            # partition), so a restart restores every key from one ordered log; reads add the sources up.
            source = f"{SEP}{event.message.topic}/{event.message.partition}"
            for table, key in change.counts:
                self.windowed[table][key + source] += 1
            if change.lag is not None:
                lag = self.windowed[LAG]
                lag[LAG + source] = max(float(lag[LAG + source].current()), change.lag)
            if change.sent is not None:
                self.pending[change.sent[0]] = change.sent[1]
            if change.answered is not None and change.answered in self.pending:
                del self.pending[change.answered]
            if change.circuit is not None:
                keep_latest(self.circuits, *change.circuit)
            self.seen += 1

    def rows(self) -> list[tuple[str, str, float, float]]:
        """Every windowed row ``(table, key, window start, value)`` this worker holds."""
        out = []
        for name, wrapper in self.windowed.items():
            for (key, (start, _end)), value in list(wrapper.table.data.items()):
                out.append((name, str(key).rsplit(SEP, 1)[0], float(start), float(value)))
        return out

    def figures(self, now: datetime | None = None) -> OperatorFigures:
        return summarize(self.rows(), list(self.pending.items()), now or datetime.now(UTC),
                         circuits=list(self.circuits.items()))

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()


def operator_agent(bootstrap: str, *, partitions: int, datadir: str, app_id: str = APP_ID,
                   source_topics: Mapping[str, str] | None = None, **options: Any) -> OperatorAgent:
    """The agent on the brokers ``bootstrap``; ``partitions``: the source topics' (the tables match them)."""
    return OperatorAgent(make_app(app_id, bootstrap, partitions=partitions, datadir=datadir, **options),
                         source_topics)
