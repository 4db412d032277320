"""Rough throughput of the event store append path, the outbox relay, and the whole path
Kafka intake → handler → event stored (with tracking) → relay → Kafka.

    python benchmarks/store_bench.py --url sqlite:////tmp/bench.db
    python benchmarks/store_bench.py --url postgresql://postgres@127.0.0.1:5432/postgres \
        --kafka 127.0.0.1:9092

Prints appends/s (one transaction per command, 1 and 2 threads; batches of 50 commands) and,
with --kafka, the relay's publish rate to Kafka and the end-to-end rate of a consumer that
stores each command's event (per message, and with a batch handler) while a relay publishes.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal

from cbec.bus import Message, Subscription
from cbec.bus.kafka import KafkaConsumerLoop, KafkaPublisher, ensure_topics
from cbec.store import Append, EventStore, NewEvent, RecordedEvent, Tracking, canonical_json
from cbec.store.outbox import OutboxRelay, tracking_for


def order_event(n: int) -> NewEvent:
    return NewEvent(
        "OrderReceived",
        {
            "ebpCode": "3301960ABC",
            "orderNo": f"SO{n:012d}",
            "goodsValue": Decimal("199.00"),
            "freight": Decimal("10.00"),
            "lines": [{"gnum": 1, "itemNo": "SKU-1", "qty": Decimal("2"), "price": Decimal("99.50")}],
        },
        {"trace": uuid.uuid4().hex},
    )


def appends_per_second(store: EventStore, count: int, threads: int) -> float:
    per_thread = count // threads

    def work(offset: int) -> None:
        for n in range(per_thread):
            store.append(uuid.uuid4(), 0, [order_event(offset + n)])

    workers = [threading.Thread(target=work, args=(i * per_thread,)) for i in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return per_thread * threads / (time.perf_counter() - started)


def tracked_appends_per_second(store: EventStore, count: int) -> float:
    """A consumer's path: each message's events and its position in one transaction."""
    started = time.perf_counter()
    for n in range(count):
        store.append(uuid.uuid4(), 0, [order_event(n)], tracking=Tracking("bench|cbec.in.order/0", n))
    return count / (time.perf_counter() - started)


def batched_appends_per_second(store: EventStore, count: int, batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, count, batch):
        store.append_batch([Append(uuid.uuid4(), 0, [order_event(n)]) for n in range(start, start + batch)])
    return count / (time.perf_counter() - started)


def end_to_end_per_second(url: str, kafka: str, count: int, *, batched: bool) -> float:
    """Commands on a Kafka topic → consumer stores one event each (with tracking) → relay → Kafka."""
    tag = uuid.uuid4().hex[:8]
    intake, out = f"bench.{tag}.in", f"bench.{tag}.events"
    ensure_topics(kafka, [intake, out], partitions=6)
    store = EventStore.open(url, schema=f"bench_{tag}", name="bench")
    publisher = KafkaPublisher(kafka)

    def one(message: Message) -> None:
        store.append(uuid.uuid4(), 0, [order_event(message.offset)], tracking=tracking_for("bench", message))

    def many(batch: Sequence[Message]) -> None:
        appends = [Append(uuid.uuid4(), 0, [order_event(m.offset)]) for m in batch]
        store.append_batch(appends, tracking=tracking_for("bench", batch[-1]))

    subscription = Subscription((intake,), f"bench-{tag}")
    consumer = (
        KafkaConsumerLoop(kafka, subscription, batch_handler=many)
        if batched
        else KafkaConsumerLoop(kafka, subscription, one)
    )
    deadline = time.monotonic() + 30
    while not consumer._consumer.assignment() and time.monotonic() < deadline:
        consumer.run_once(0.2)  # join the group before the clock starts
    for n in range(count):
        publisher.publish(intake, f"EBP001:SO{n}", canonical_json({"orderNo": f"SO{n:012d}"}))
    publisher.flush()

    relay = OutboxRelay(
        store, publisher, name="bench", route=lambda e: [(out, str(e.stream_id), canonical_json(e.data))]
    )
    stop = threading.Event()

    def relay_loop() -> None:
        while not stop.is_set():
            if relay.run_once(1000) == 0:
                time.sleep(0.005)

    started = time.perf_counter()
    relaying = threading.Thread(target=relay_loop)
    relaying.start()
    handled = 0
    while handled < count:
        handled += consumer.run_once(0.05)
    while relay.position() < (store.max_notification_id() or 0):
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    stop.set()
    relaying.join()
    consumer.close()
    publisher.close()
    store.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--schema", default=f"bench_{uuid.uuid4().hex[:8]}")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--kafka")
    args = parser.parse_args()

    store = EventStore.open(args.url, schema=args.schema, name="bench")
    appends_per_second(store, 300, 1)  # warm up: connections, prepared statements, WAL
    print(f"append, 1 thread:      {appends_per_second(store, args.count, 1):8.0f} commands/s")
    print(f"append, 2 threads:     {appends_per_second(store, args.count, 2):8.0f} commands/s")
    print(f"append with tracking:  {tracked_appends_per_second(store, args.count):8.0f} commands/s")
    print(f"append_batch of 50:    {batched_appends_per_second(store, args.count * 3, 50):8.0f} commands/s")

    if args.kafka:
        topic = f"bench.{uuid.uuid4().hex[:8]}.events"
        ensure_topics(args.kafka, [topic], partitions=6)
        publisher = KafkaPublisher(args.kafka)

        def route(event: RecordedEvent) -> list[tuple[str, str, bytes]]:
            return [(topic, event.data["orderNo"], canonical_json({"type": event.type, "data": event.data}))]

        relay = OutboxRelay(store, publisher, name="bench", route=route)
        total = store.max_notification_id() or 0
        started = time.perf_counter()
        relayed = 0
        while relayed < total:
            relayed += relay.run_once(limit=1000)
        elapsed = time.perf_counter() - started
        print(f"relay to Kafka:        {relayed / elapsed:8.0f} events/s ({relayed} events)")
        publisher.close()
        for batched in (False, True):
            rate = end_to_end_per_second(args.url, args.kafka, args.count, batched=batched)
            label = "batch handler" if batched else "per message"
            print(f"intake→store→Kafka, {label}: {rate:8.0f} commands/s")
    store.close()


if __name__ == "__main__":
    main()
