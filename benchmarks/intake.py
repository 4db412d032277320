"""Intake throughput of ONE order service process: Kafka ``cbec.in.order`` → validated, stored,
released → ``DocumentReleased`` published on ``cbec.order.events``.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cbec \
        python benchmarks/intake.py --count 8000 [--rate 900]

Starts the real service (``python -m cbec_cli.main run order``: batched intake, one transaction per
partition poll, outbox relay on aiokafka) with a fresh schema prefix, waits until the service's
consumer group has no lag, then publishes ``--count`` generated orders (as fast as the producer can,
or at ``--rate`` per second) and follows the events topic. Prints commands/s (first send → last
release), the p50/p99 latency from send to ``DocumentReleased`` (at full speed this is mostly time
queued behind earlier orders: use ``--rate`` below the throughput for the service's own latency),
the service's CPU per command and the load average. Other modes, in this process and without Kafka:
``--in-process`` runs the batched intake handler (on DATABASE_URL or ``--profile-url``),
``--profile`` runs the one-message handler path under cProfile, ``--floor`` the bare
CPU-plus-batched-append floor.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from cbec_testkit.samples import declare_orders

ROOT = Path(__file__).resolve().parents[1]
IN_TOPIC = "cbec.in.order"
EVENTS_TOPIC = "cbec.order.events"
GROUP = "cbec-order"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def start_service(bootstrap: str, database_url: str, prefix: str, log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        CBEC_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        CBEC_DATABASE_URL=database_url,
        CBEC_SCHEMA_PREFIX=prefix,
        CBEC_LOG_LEVEL=os.environ.get("CBEC_LOG_LEVEL", "WARNING"),
    )
    env.pop("CBEC_HTTP_PORT", None)
    log = log_path.open("wb")
    command = [sys.executable, "-m", "cbec_cli.main", "run", "order"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise SystemExit(f"order service exited ({process.poll()}); see {log_path}")
        if b"ready" in line:
            threading.Thread(target=process.stdout.read, daemon=True).start()  # keep draining
            return process
    process.terminate()
    raise SystemExit("order service did not become ready in 120 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_lag(bootstrap: str) -> int | None:
    """Messages on the intake topic the service's group has not committed yet (None: no commits)."""
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=GROUP, client_id="cbec-bench-lag", enable_auto_commit=False
    )
    try:
        partitions = [TopicPartition(IN_TOPIC, p) for p in consumer.partitions_for_topic(IN_TOPIC) or ()]
        ends = consumer.end_offsets(partitions)
        if not any(ends.values()):
            return 0
        committed = {tp: consumer.committed(tp) for tp in partitions}
        if all(c is None for c in committed.values()):
            return None
        return sum(int(end) - (committed[tp] or 0) for tp, end in ends.items())
    finally:
        consumer.close(autocommit=False)


def wait_idle(bootstrap: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lag = group_lag(bootstrap)
        if lag == 0:
            return
        time.sleep(1)
    raise SystemExit("the order service's group still has lag: an earlier backlog is being consumed")


class Follower(threading.Thread):
    """Reads the events topic from its current end; notes when each clearance is released."""

    def __init__(self, bootstrap: str, expected: set[str]) -> None:
        super().__init__(daemon=True)
        from kafka import KafkaConsumer

        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id="cbec-bench-follower",
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
        )
        from kafka.structs import TopicPartition

        parts = [
            TopicPartition(EVENTS_TOPIC, p) for p in self.consumer.partitions_for_topic(EVENTS_TOPIC) or ()
        ]
        self.consumer.assign(parts)
        self.consumer.seek_to_end(*parts)
        for tp in parts:
            self.consumer.position(tp)  # resolve the end offsets now, before anything is sent
        self.expected = expected
        self.released: dict[str, float] = {}
        self.refused = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for records in self.consumer.poll(timeout_ms=200).values():
                now = time.perf_counter()
                for record in records:
                    key = record.key.decode() if record.key else ""
                    if key not in self.expected:
                        continue
                    kind = json.loads(record.value)["type"]
                    if kind == "DocumentReleased":
                        self.released.setdefault(key, now)
                    elif kind == "DocumentRefused":
                        self.refused += 1
            if len(self.released) + self.refused >= len(self.expected):
                self.done.set()


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    from kafka import KafkaProducer

    bootstrap = args.kafka or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database_url = args.database_url or os.environ.get("DATABASE_URL")
    if not bootstrap or not database_url:
        raise SystemExit("set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (or --kafka/--database-url)")
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    start = random.randint(1, 90_000_000)
    commands = declare_orders(args.count, seed=start, start=start)
    payloads = [
        (f"{c.document['OrderHead']['ebpCode']}:{c.document['OrderHead']['orderNo']}", c.to_json())
        for c in commands
    ]
    log_path = Path(args.log or f"/tmp/{prefix}order.log")
    service = start_service(bootstrap, database_url, prefix, log_path)
    try:
        wait_idle(bootstrap)
        follower = Follower(bootstrap, {k for k, _ in payloads})
        follower.start()
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=256 * 1024)
        sent: dict[str, float] = {}
        cpu_before = cpu_seconds(service.pid)
        load_before = os.getloadavg()[0]
        first = time.perf_counter()
        interval = 1.0 / args.rate if args.rate else 0.0
        for i, (key, value) in enumerate(payloads):
            if interval:
                delay = first + i * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            sent[key] = time.perf_counter()
            producer.send(IN_TOPIC, key=key.encode(), value=value)
        producer.flush()
        produced = time.perf_counter()
        follower.done.wait(args.timeout)
        follower.done.set()
        last = max(follower.released.values(), default=produced)
        service_cpu = cpu_seconds(service.pid) - cpu_before
        latencies = [(follower.released[k] - sent[k]) * 1000 for k in follower.released]
        result = {
            "commands": args.count,
            "released": len(follower.released),
            "refused": follower.refused,
            "produce_s": round(produced - first, 3),
            "elapsed_s": round(last - first, 3),
            "commands_per_s": round(len(follower.released) / (last - first), 1) if follower.released else 0.0,
            "latency_ms_p50": round(percentile(latencies, 0.50), 1) if latencies else None,
            "latency_ms_p99": round(percentile(latencies, 0.99), 1) if latencies else None,
            "service_cpu_s": round(service_cpu, 2),
            "service_cpu_ms_per_command": round(1000 * service_cpu / max(1, len(follower.released)), 2),
            "load_average_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "cpus": os.cpu_count(),
            "schema_prefix": prefix,
        }
        producer.close()
        return result
    finally:
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
        if not args.keep:
            drop_schema(database_url, prefix + "order")


def drop_schema(database_url: str, schema: str) -> None:
    if not database_url.startswith(("postgresql://", "postgres://")):
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def profile_handler(args: argparse.Namespace) -> None:
    """cProfile the intake handler path (parse → validate → render → append) in this process."""
    import cProfile
    import pstats
    import tempfile

    from cbec.bus.ports import Message
    from cbec.declaration import ceb_bridge
    from cbec.declaration.application import DeclarationApp
    from cbec.declaration.bus_glue import bus_handler
    from cbec.declaration.dispatch import handlers
    from cbec.declaration.eventstore_adapter import EventStoreDeclarations
    from cbec.store.event_store import EventStore
    from cbec_testkit.tenants import demo_registry
    from order_service.domain import ORDER_POLICY

    url = args.profile_url or f"sqlite:///{tempfile.mkdtemp()}/profile.db"
    schema = f"prof{uuid.uuid4().hex[:8]}_order"
    store = EventStore.open(url, schema=schema, name="order")
    app = DeclarationApp(
        [ORDER_POLICY], EventStoreDeclarations(store), demo_registry(), ceb_bridge.validate, ceb_bridge.render
    )
    handle = bus_handler("order", handlers(app))
    commands = declare_orders(args.count + 1)
    messages = [Message(IN_TOPIC, 0, n, None, c.to_json(), {}) for n, c in enumerate(commands[:-1])]
    handle(Message(IN_TOPIC, 1, 0, None, commands[-1].to_json(), {}))  # warm up lazy imports
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for message in messages:
        handle(message)
    profiler.disable()
    elapsed = time.perf_counter() - started
    print(f"handler path on {url.split(':')[0]}: {args.count / elapsed:.0f} commands/s (under cProfile)")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
    store.close()
    drop_schema(url, schema)


def batched_floor(args: argparse.Namespace) -> None:
    """What one poll-sized transaction per batch could reach: the handler's CPU work per command
    (parse, validate, render) plus ONE ``append_batch`` (events of every stream + the tracking
    position) per ``--batch`` commands, on ``--profile-url``. No duplicate or prerequisite reads:
    a lower bound on cost, i.e. an upper bound on what batching the real handler can give."""
    import tempfile

    from cbec.contracts.commands import parse_declare
    from cbec.declaration import ceb_bridge
    from cbec.declaration.doctypes import ORDER
    from cbec.store import Append, EventStore, NewEvent
    from eventsourcing.persistence import Tracking

    url = args.profile_url or f"sqlite:///{tempfile.mkdtemp()}/floor.db"
    schema = f"floor{uuid.uuid4().hex[:8]}_order"
    store = EventStore.open(url, schema=schema, name="order")
    raws = [c.to_json() for c in declare_orders(args.count)]
    ceb_bridge.render(ORDER, declare_orders(1)[0].document, {})  # warm up lazy imports
    ceb_bridge.validate(ORDER, declare_orders(1)[0].document)
    transfer = {"copCode": "3105960001", "copName": "-", "dxpMode": "DXP", "dxpId": "DXPENT0000000001"}
    cpu = 0.0
    started = time.perf_counter()
    for first in range(0, len(raws), args.batch):
        t0 = time.perf_counter()
        appends = []
        for raw in raws[first : first + args.batch]:
            command = parse_declare(raw)
            head = command.document["OrderHead"]
            head.update(guid=str(uuid.uuid4()).upper(), appType="1", appTime="20260101120000", appStatus="2")
            errors = ceb_bridge.validate(ORDER, command.document)
            if errors:
                raise SystemExit(f"generated order refused: {errors[0]}")
            xml = ceb_bridge.render(ORDER, command.document, transfer)
            key = ORDER.business_key(command.document)
            data = {"docType": "CEB311", "clearanceKey": ":".join(key), "sender": command.sender}
            appends.append(
                Append(
                    ORDER.stream_id(key),
                    0,
                    [
                        NewEvent(
                            "DocumentReceived",
                            {**data, "document": command.document, "contentHash": command.content_hash()},
                        ),
                        NewEvent("DocumentReleased", {**data, "requestId": "r", "xml": xml.decode()}),
                    ],
                )
            )
        cpu += time.perf_counter() - t0
        store.append_batch(appends, tracking=Tracking("cbec.in.order:0", first + len(appends)))
    elapsed = time.perf_counter() - started
    print(
        f"batched floor on {url.split(':')[0]}, batches of {args.batch}: "
        f"{args.count / elapsed:.0f} commands/s "
        f"(CPU in handler {1000 * cpu / args.count:.2f} ms/command, "
        f"store {1000 * (elapsed - cpu) / args.count:.2f} ms/command)"
    )
    store.close()
    drop_schema(url, schema)


def in_process(args: argparse.Namespace) -> None:
    """The service's batched intake handler in this process, without Kafka: ``--count`` orders in
    polls of ``--batch`` messages on one partition, each poll one transaction (``cbec run order``
    wires the same handler). Shows what the handler and the store cost per command."""
    import tempfile

    from cbec.bus.ports import Message
    from cbec.declaration.batch_intake import batch_handler
    from cbec.declaration.batching import BatchingDeclarations
    from cbec.store.event_store import EventStore
    from cbec_testkit.tenants import demo_registry
    from order_service import application

    url = args.profile_url or os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/batch.db"
    schema = f"inproc{uuid.uuid4().hex[:8]}_order"
    store = EventStore.open(url, schema=schema, name="order")
    declarations = BatchingDeclarations(store)
    handle = batch_handler("order", application.build(declarations, demo_registry()), declarations)
    commands = declare_orders(args.count + 2)
    handle([Message(IN_TOPIC, 1, n, None, c.to_json(), {}) for n, c in enumerate(commands[-2:])])  # warm up
    messages = [Message(IN_TOPIC, 0, n, None, c.to_json(), {}) for n, c in enumerate(commands[:-2])]
    cpu = time.process_time()
    started = time.perf_counter()
    for first in range(0, len(messages), args.batch):
        handle(messages[first : first + args.batch])
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    released = sum(1 for e in store.notifications(1, 10 * args.count + 10) if e.type == "DocumentReleased") - 2
    print(
        f"batched intake in process (polls of {args.batch}) on {url.split(':')[0]}: "
        f"{args.count / elapsed:.0f} commands/s, CPU {1000 * cpu / args.count:.2f} ms/command, "
        f"{released} of {args.count} released"
    )
    store.close()
    drop_schema(url, schema)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="commands/s to send at (0: as fast as possible)"
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--kafka")
    parser.add_argument("--database-url")
    parser.add_argument("--log", help="service stderr log file")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's Postgres schema")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--profile-url", help="event store URL for --profile (default: a temporary SQLite file)"
    )
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--floor", action="store_true", help="measure the batched-append floor instead")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--in-process", action="store_true", help="the batched intake handler in this process, without Kafka"
    )
    args = parser.parse_args()
    if args.in_process:
        in_process(args)
        return
    if args.floor:
        batched_floor(args)
        return
    if args.profile:
        profile_handler(args)
        return
    result = run_benchmark(args)
    print(json.dumps(result, indent=2))
    if result["released"] < args.count - result["refused"]:
        raise SystemExit(f"only {result['released']} of {args.count} released within {args.timeout} s")


if __name__ == "__main__":
    main()
