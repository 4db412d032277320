"""Readiness: signalled only once every consumer joined and the store answered; gone when stopped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cbec.bus.kafka import KafkaConsumerLoop
from cbec.bus.ports import Message, Subscription
from cbec.runtime import EXIT_OK, ServiceProcess
from kafka.errors import CommitFailedError, KafkaConnectionError
from kafka.structs import TopicPartition
from runtime_scenarios import TOPIC, FakeKafkaConsumer, Record, consumer_loop


class GroupMember:
    """A consumer whose group join the test decides."""

    name = "member"

    def __init__(self) -> None:
        self.has_joined = threading.Event()
        self.closed = False

    def run_forever(self, stop: threading.Event) -> None:
        stop.wait()

    def joined(self) -> bool:
        return self.has_joined.is_set()

    def close(self) -> None:
        self.closed = True


class Store:
    """Answers the health query once it is up."""

    def __init__(self) -> None:
        self.up = False
        self.asked = 0

    def ping(self) -> None:
        self.asked += 1
        if not self.up:
            raise ConnectionError("store not answering")


def eventually(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def running() -> Iterator[Callable[[ServiceProcess], threading.Thread]]:
    started: list[tuple[ServiceProcess, threading.Thread]] = []

    def start(process: ServiceProcess) -> threading.Thread:
        thread = threading.Thread(target=lambda: codes.append(process.serve()), daemon=True)
        started.append((process, thread))
        thread.start()
        return thread

    codes: list[int] = []
    yield start
    for process, thread in started:
        process.stop.set()
        thread.join(timeout=20)
    assert codes == [EXIT_OK] * len(started)


def test_ready_only_after_the_consumers_joined_and_the_store_answered(
    tmp_path: Path, running: Callable[[ServiceProcess], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ready = tmp_path / "order.ready"
    first, second, store = GroupMember(), GroupMember(), Store()
    process = ServiceProcess("order", consumers=[first, second], ready_file=ready, health_check=store.ping,
                             tracing=False)
    running(process)
    time.sleep(0.2)
    assert not ready.exists() and store.asked == 0  # nobody joined yet: the store is not even asked
    first.has_joined.set()
    time.sleep(0.2)
    assert not ready.exists() and store.asked == 0
    second.has_joined.set()
    eventually(lambda: store.asked > 0)
    time.sleep(0.2)
    assert not ready.exists()  # the store does not answer yet
    store.up = True
    eventually(ready.exists)
    assert ready.read_text() == "order"
    assert "cbec order: ready" in capsys.readouterr().out
    process.stop.set()
    eventually(lambda: first.closed and second.closed)
    assert not ready.exists()


def test_a_stale_ready_file_is_removed_when_the_process_is_built(tmp_path: Path) -> None:
    ready = tmp_path / "order.ready"
    ready.write_text("order")
    ServiceProcess("order", consumers=[GroupMember()], ready_file=ready)
    assert not ready.exists()


def test_a_poller_that_fails_now_and_then_keeps_running(
    tmp_path: Path, running: Callable[[ServiceProcess], Any], caplog: pytest.LogCaptureFixture
) -> None:
    rounds: list[str] = []

    def flaky() -> int:
        rounds.append("round")
        if len(rounds) % 3 == 0:
            raise TimeoutError("slow database")
        return 0

    process = ServiceProcess("order", pollers=[flaky], max_round_failures=2, retry_backoff=0.01, poll_interval=0.001,
                             tracing=False)
    thread = running(process)
    eventually(lambda: len(rounds) > 30)  # ten failures, never two in a row
    assert thread.is_alive() and process.crashed is None
    assert sum("TimeoutError" in r.getMessage() for r in caplog.records) >= 10


def test_close_callbacks_run_once_on_stop(running: Callable[[ServiceProcess], Any]) -> None:
    closed: list[str] = []
    process = ServiceProcess("order", on_close=[lambda: closed.append("publisher")], tracing=False)
    thread = running(process)
    process.stop.set()
    thread.join(timeout=20)
    assert closed == ["publisher"]


def test_a_kafka_consumer_counts_as_joined_after_its_first_assignment_even_an_empty_one() -> None:
    clients: list[FakeKafkaConsumer] = []

    def factory(**config: Any) -> FakeKafkaConsumer:
        clients.append(FakeKafkaConsumer(**config))
        return clients[-1]

    loop = consumer_loop(factory)
    assert not loop.joined() and clients[0].topics == [TOPIC]
    clients[0].listener.on_partitions_assigned(set())
    assert loop.joined()


def test_a_kafka_consumer_retries_a_failed_handler_and_keeps_consuming() -> None:
    attempts: list[int] = []

    def handle(message: Message) -> None:
        attempts.append(message.offset)
        raise ValueError("bad message")

    loop = consumer_loop(lambda **config: FakeKafkaConsumer([Record(TOPIC, 0, 7, None, b"{}")], **config), handle)
    stop = threading.Event()
    consuming = threading.Thread(target=loop.run_forever, args=(stop,), kwargs={"retry_pause": 0.01})
    consuming.start()
    eventually(lambda: attempts == [7])
    time.sleep(0.2)
    assert consuming.is_alive()  # a failed message is retried (here: never redelivered by the fake)
    stop.set()
    consuming.join(timeout=5)
    assert not consuming.is_alive()


def test_a_kafka_consumer_lets_a_commit_error_out_of_run_forever() -> None:
    loop = consumer_loop(lambda **config: FakeKafkaConsumer(
        [Record(TOPIC, 0, 7, None, b"{}")], commit_error=CommitFailedError("rebalanced"), **config))
    with pytest.raises(CommitFailedError):
        loop.run_forever(threading.Event())


class FlakyBroker(FakeKafkaConsumer):
    """Its commits fail while the broker restarts (a lost connection), then succeed again."""

    def __init__(self, failures: int, **config: Any) -> None:
        super().__init__([Record(TOPIC, 0, 0, b"k", b"{}"), Record(TOPIC, 0, 1, b"k", b"{}")], **config)
        self.failures = failures

    def commit(self, offsets: dict[Any, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("broker restarting")
        super().commit(offsets)


def test_a_consumer_waits_out_a_broker_restart_instead_of_ending_the_process() -> None:
    broker = FlakyBroker(1)
    handled: list[int] = []
    ended: list[BaseException] = []
    loop = KafkaConsumerLoop("fake:9092", Subscription((TOPIC,), "cbec-test"), lambda m: handled.append(m.offset),
                             consumer_factory=lambda **config: broker)
    stop = threading.Event()

    def consume() -> None:
        try:
            loop.run_forever(stop, retry_pause=0.01)
        except BaseException as error:  # noqa: BLE001 - the story is that nothing ends up here
            ended.append(error)

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    eventually(lambda: broker.failures == 0, timeout=10)  # the commit failed while the broker restarted
    broker.records = [Record(TOPIC, 0, 2, b"k", b"{}")]  # the broker is back: the next poll brings more
    eventually(lambda: bool(broker.committed), timeout=10)
    stop.set()
    worker.join(10)
    assert not ended, f"the loop ended on a retriable broker error: {ended}"
    assert handled == [0, 1, 2] and broker.committed[TopicPartition(TOPIC, 0)].offset == 3


def test_a_commit_refused_after_a_rebalance_still_ends_the_loop() -> None:
    broker = FakeKafkaConsumer([Record(TOPIC, 0, 0, b"k", b"{}")], commit_error=CommitFailedError("rebalanced"))
    loop = KafkaConsumerLoop("fake:9092", Subscription((TOPIC,), "cbec-test"), lambda m: None,
                             consumer_factory=lambda **config: broker)
    with pytest.raises(CommitFailedError):
        loop.run_forever(threading.Event(), retry_pause=0.01)
