"""The consumer groups' lag for the operator view: per group and topic, how many messages the group has not
committed yet (each partition's end offset minus the group's committed offset, added up per topic).

Sampled in the console process only (kafka-python's admin client: the groups, their committed offsets,
the partitions' end offsets), on a slow timer (``every``, at least 30 s) while the operator agent runs,
and when the operator page asks and the last sample is older than ``every``; an idle console with no
agent never samples (issue #12's idle budget). The page shows the latest sample and the totals of the
last hour's samples. A failed sample is logged (its error class) and the last good one stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger(__name__)

Partition = tuple[str, int]  # (topic, partition)
MIN_EVERY = 30.0  # seconds: the shortest sampling interval (each sample asks the brokers three things)


class LagSource(Protocol):
    """What a sample asks the brokers."""

    def groups(self) -> list[str]: ...

    def committed(self, group: str) -> dict[Partition, int]: ...

    def ends(self, partitions: Iterable[Partition]) -> dict[Partition, int]: ...


def lag_of(committed: Mapping[str, Mapping[Partition, int]],
           ends: Mapping[Partition, int]) -> dict[tuple[str, str], int]:
    """Per ``(group, topic)``: the messages after each committed offset up to its partition's end (a
    partition whose end is unknown is left out; a commit past the end, e.g. after a truncation, counts 0)."""
    out: dict[tuple[str, str], int] = {}
    for group, offsets in committed.items():
        for (topic, partition), offset in offsets.items():
            end = ends.get((topic, partition))
            if end is None:
                continue
            out[(group, topic)] = out.get((group, topic), 0) + max(0, end - offset)
    return out


@dataclass(frozen=True)
class LagSample:
    at: datetime
    lag: dict[tuple[str, str], int]  # (group, topic) -> messages behind

    def per_group(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (group, _), behind in self.lag.items():
            out[group] = out.get(group, 0) + behind
        return out

    @property
    def total(self) -> int:
        return sum(self.lag.values())


@dataclass
class LagSampler:
    """Samples ``source`` (the groups named ``prefix…``) at most every ``every`` seconds, keeping ``keep``."""

    source: LagSource
    every: float = 60.0
    keep: timedelta = timedelta(hours=1)
    prefix: str = "cbec-"
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    samples: list[LagSample] = field(default_factory=list)
    failures: int = 0

    def __post_init__(self) -> None:
        self.every = max(self.every, MIN_EVERY)
        self._lock = asyncio.Lock()

    def sample(self) -> LagSample:
        """Ask the brokers now (blocking) and keep the sample."""
        groups = sorted(g for g in self.source.groups() if g.startswith(self.prefix))
        committed = {group: self.source.committed(group) for group in groups}
        ends = self.source.ends({p for offsets in committed.values() for p in offsets})
        taken = LagSample(self.now(), lag_of(committed, ends))
        self.samples = [s for s in self.samples if s.at >= taken.at - self.keep] + [taken]
        return taken

    def latest(self) -> LagSample | None:
        return self.samples[-1] if self.samples else None

    def due(self) -> bool:
        last = self.latest()
        return last is None or (self.now() - last.at).total_seconds() >= self.every

    async def refresh(self) -> LagSample | None:
        """A new sample when the last is older than ``every`` (in a worker thread); the latest sample."""
        async with self._lock:  # the timer and a page asking together take one sample
            if self.due():
                try:
                    await asyncio.to_thread(self.sample)
                except Exception as error:  # noqa: BLE001 - the page shows the last good sample
                    self.failures += 1
                    log.warning("consumer lag: sample failed (%s)", type(error).__name__)
        return self.latest()

    async def run(self) -> None:
        """The slow timer: a sample every ``every`` seconds until cancelled."""
        while True:
            await self.refresh()
            await asyncio.sleep(self.every)


class KafkaLagSource:
    """:class:`LagSource` on the brokers, through one kafka-python admin client made on first use."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)  # cbec.bus.security.client_options: servers, protocol, credentials
        self._admin: Any = None

    def _client(self) -> Any:
        if self._admin is None:
            from kafka import KafkaAdminClient

            self._admin = KafkaAdminClient(**{"client_id": "cbec-console-lag", **self.options})
        return self._admin

    def groups(self) -> list[str]:
        found = self._client().list_groups()
        return [str(g["group_id"] if isinstance(g, dict) else g[0]) for g in found]

    def committed(self, group: str) -> dict[Partition, int]:
        offsets = self._client().list_group_offsets({group: None}).get(group, {})
        return {(tp.topic, tp.partition): int(meta.offset) for tp, meta in offsets.items() if meta.offset >= 0}

    def ends(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        from kafka import TopicPartition
        from kafka.admin import OffsetSpec

        specs = {TopicPartition(topic, partition): OffsetSpec.LATEST for topic, partition in partitions}
        if not specs:
            return {}
        found = self._client().list_partition_offsets(specs)
        return {(tp.topic, tp.partition): int(result.offset) for tp, result in found.items()}

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
