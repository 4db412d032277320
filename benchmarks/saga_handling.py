"""CPU per clearance of the saga's message handling, in process (no Kafka).

``python benchmarks/saga_handling.py [--clearances N] [--url sqlite:///:memory:] [--batch 100] [--profile]``

Drives :meth:`saga_service.application.SagaApp.handle_batch` with the events a full 9610 clearance
publishes (order and payment sent at once, waybill and list held until the saga releases them, each
answered 2 then 120, the list 800 at the end), ``--batch`` messages per call as a consumer's poll
hands one partition's share over, clearances interleaved. Prints process CPU seconds per clearance;
``--profile`` adds the top of a cProfile. ``--url`` may name a Postgres database (schema
``saga_bench``, dropped first).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from cbec.bus.ports import Message
from cbec.clock import FakeClock
from cbec.contracts import topics
from cbec.contracts.events import (
    DeclarationEvent,
    DocumentHeld,
    DocumentReceived,
    DocumentReleased,
    DocumentSent,
    DocumentSigned,
    EventData,
    Links,
    ReceiptRecorded,
    StreamFields,
    stream_fields,
)
from cbec.store.event_store import EventStore
from saga_service.application import SagaApp
from saga_service.domain import Policy

SENDERS = {"CEB311": "3105960001", "CEB411": "3105960002", "CEB511": "3105960003", "CEB621": "3105960004"}
TOPICS = {"CEB311": topics.events("order"), "CEB411": topics.events("payment"),
          "CEB511": topics.events("logistics"), "CEB621": topics.events("inventory")}


def clearance_events(number: int) -> Iterator[tuple[str, DeclarationEvent]]:
    """The events of one clearance, in the order the owning services publish them."""
    key = f"3105960001:BENCH{number:08d}"
    versions: dict[str, int] = {}
    receipts = 0

    def event(payload: EventData) -> tuple[str, DeclarationEvent]:
        doc_type = payload.doc_type
        versions[doc_type] = versions.get(doc_type, 0) + 1
        stream = uuid.uuid5(uuid.NAMESPACE_URL, f"{doc_type}:{key}")
        published = DeclarationEvent.of(stream, versions[doc_type], payload.TYPE, payload.to_dict())
        return TOPICS[doc_type], published

    def fields(doc_type: str) -> StreamFields:
        business_key = ["3105960003", f"W{number:08d}"] if doc_type == "CEB511" else [key, doc_type]
        return stream_fields(doc_type, key, Links(business_key=business_key))

    def send(doc_type: str) -> Iterator[tuple[str, DeclarationEvent]]:
        request = f"{doc_type}:{key}"
        yield event(DocumentReleased(**fields(doc_type), sender=SENDERS[doc_type], request_id=request))
        yield event(DocumentSigned(**fields(doc_type), request_id=request))
        yield event(DocumentSent(**fields(doc_type), request_id=request, file_name="f.xml", cop_msg_id="M1",
                                 sent_at="2026-01-01T06:00:00+00:00"))

    def answer(doc_type: str, *codes: int) -> Iterator[tuple[str, DeclarationEvent]]:
        nonlocal receipts
        for code in codes:
            receipts += 1
            yield event(ReceiptRecorded(**fields(doc_type), receipt_id=f"r{receipts}",
                                        receipt_type=doc_type[:-1] + "2", return_status=code,
                                        return_time=f"20260101120000{receipts:03d}", return_info=str(code)))

    for doc_type in SENDERS:
        yield event(DocumentReceived(**fields(doc_type), sender=SENDERS[doc_type], command_id=f"c-{doc_type}",
                                     content_hash="0" * 64))
        if doc_type in ("CEB511", "CEB621"):
            yield event(DocumentHeld(**fields(doc_type), waiting_for=["prerequisites"]))
        else:
            yield from send(doc_type)
    yield from answer("CEB311", 2, 120)
    yield from answer("CEB411", 2, 120)
    yield from send("CEB511")
    yield from answer("CEB511", 2, 120)
    yield from send("CEB621")
    yield from answer("CEB621", 2, 120, 800)


def batches(clearances: int, batch: int, interleave: int = 50) -> list[list[Message]]:
    """The messages of ``clearances`` clearances, ``interleave`` at a time, cut into polls of ``batch``."""
    messages: list[Message] = []
    offset = 0
    for first in range(0, clearances, interleave):
        streams = [list(clearance_events(n)) for n in range(first, min(first + interleave, clearances))]
        while any(streams):
            for stream in streams:
                if stream:
                    topic, event = stream.pop(0)
                    offset += 1
                    messages.append(Message(topic, 0, offset, event.clearance_key, event.to_json()))
    return [messages[i:i + batch] for i in range(0, len(messages), batch)]


def open_store(url: str) -> EventStore:
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS saga_bench CASCADE")
    return EventStore.open(url, schema="saga_bench", name="saga")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clearances", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--url", default="sqlite:///:memory:")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    polls = batches(args.clearances, args.batch)
    store = open_store(args.url)
    clock = FakeClock(datetime(2026, 1, 1, 6, 0, tzinfo=UTC))
    saga = SagaApp(store, policy=Policy(receipt_timeout=timedelta(minutes=10)), clock=clock)
    profiler = cProfile.Profile() if args.profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for poll in polls:
        saga.handle_batch(poll)
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - started
    messages = sum(len(p) for p in polls)
    print(f"{args.clearances} clearances, {messages} messages, {len(polls)} polls: "
          f"{cpu:.2f} CPU-s, {1000 * cpu / args.clearances:.2f} ms CPU per clearance")
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(20)
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
