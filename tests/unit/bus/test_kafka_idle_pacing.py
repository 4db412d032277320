"""An idle consumer sleeps in long waits (issue #12): the broker holds its empty fetches, it heartbeats
seldom, and its loop polls with the configured timeout, so SIGTERM is still seen within that timeout."""

from __future__ import annotations

import threading
import time
from collections import namedtuple
from typing import Any

from cbec.bus.kafka import FETCH_MAX_WAIT_MS, HEARTBEAT_INTERVAL_MS, KafkaConsumerLoop
from cbec.bus.ports import Subscription
from cbec.settings import Settings
from kafka.structs import TopicPartition


class IdleConsumer:
    """Nothing ever arrives: each poll waits its whole timeout (a tenth of it here, to keep tests short)."""

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.polls: list[int] = []

    def subscribe(self, topics: list[str], listener: Any) -> None:
        listener.on_partitions_assigned([])

    def assignment(self) -> set[TopicPartition]:
        return set()

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        self.polls.append(timeout_ms)
        time.sleep(timeout_ms / 10_000)
        return {}

    def close(self, autocommit: bool = False) -> None:
        pass


def idle_loop(**options: Any) -> tuple[KafkaConsumerLoop, IdleConsumer]:
    made: list[IdleConsumer] = []

    def factory(**config: Any) -> IdleConsumer:
        made.append(IdleConsumer(**config))
        return made[0]

    loop = KafkaConsumerLoop("fake:9092", Subscription(("t",), "g"), lambda m: None, consumer_factory=factory,
                             **options)
    return loop, made[0]


def test_the_broker_holds_an_idle_consumers_fetch_and_it_heartbeats_seldom() -> None:
    _, client = idle_loop()
    assert client.config["fetch_max_wait_ms"] == FETCH_MAX_WAIT_MS == 5_000  # the client's default: 500
    assert client.config["heartbeat_interval_ms"] == HEARTBEAT_INTERVAL_MS == 10_000  # the client's: 3,000
    assert client.config["heartbeat_interval_ms"] * 3 < 45_000  # under a third of the session timeout


def test_the_pacing_comes_from_the_settings() -> None:
    kafka = Settings.from_environ({"CBEC_KAFKA_FETCH_MAX_WAIT_MS": "2000", "CBEC_KAFKA_HEARTBEAT_INTERVAL_MS": "3000",
                               "CBEC_KAFKA_POLL_TIMEOUT": "0.5"}).kafka
    loop, client = idle_loop(fetch_max_wait_ms=kafka.fetch_max_wait_ms,
                             heartbeat_interval_ms=kafka.heartbeat_interval_ms, poll_timeout=kafka.poll_timeout)
    assert (client.config["fetch_max_wait_ms"], client.config["heartbeat_interval_ms"]) == (2000, 3000)
    stop = threading.Event()
    runner = threading.Thread(target=loop.run_forever, args=(stop,))
    runner.start()
    time.sleep(0.2)
    stop.set()
    runner.join(timeout=2)
    assert not runner.is_alive()  # stopped at the end of the poll it was in
    assert client.polls and set(client.polls) == {500}
    defaults = Settings.from_environ({}).kafka
    assert (defaults.fetch_max_wait_ms, defaults.heartbeat_interval_ms, defaults.poll_timeout) == (5_000, 10_000, 2.0)


Record = namedtuple("Record", "topic partition offset key value headers")


class MeasuredConsumer(IdleConsumer):
    """One partition, fetched up to offset 12; counts how often its position is asked (the costly part
    of sampling the lag: kafka-python resolves and validates the position on every call)."""

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.asked = 0
        self.serve: list[Any] = []

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("t", 0)}

    def highwater(self, tp: TopicPartition) -> int:
        return 12

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int:
        self.asked += 1
        return 12 - len(self.serve)

    def poll(self, timeout_ms: int) -> dict[TopicPartition, list[Any]]:
        self.polls.append(timeout_ms)
        served, self.serve = self.serve, []
        return {TopicPartition("t", 0): served} if served else {}

    def commit(self, offsets: Any) -> None:
        pass


def test_an_idle_consumer_does_not_sample_its_lag_again_until_records_come() -> None:
    made: list[MeasuredConsumer] = []

    def factory(**config: Any) -> MeasuredConsumer:
        made.append(MeasuredConsumer(**config))
        return made[0]

    loop = KafkaConsumerLoop("fake:9092", Subscription(("t",), "cbec-idle-lag"), lambda m: None,
                             consumer_factory=factory)
    client = made[0]
    loop.run_once(timeout=0)
    loop._sample_lag(every=0)
    assert client.asked == 1  # the first sample
    for _ in range(5):
        loop.run_once(timeout=0)
        loop._sample_lag(every=0)
    assert client.asked == 1  # idle: nothing moved, the gauge stands
    client.serve = [Record("t", 0, 11, b"k", b"{}", [])]
    loop.run_once(timeout=0)
    loop._sample_lag(every=0)
    assert client.asked == 2  # records came: sampled again
