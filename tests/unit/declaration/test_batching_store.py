"""The batching declaration store: a consumer batch's effects commit in one transaction, and inside
the batch every read, version check and position check behaves as if each message were alone."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from cbec.declaration.batching import BatchingDeclarations, NotBatchable
from cbec.declaration.ports import AlreadyProcessed, Position, StreamAppend, VersionConflict
from cbec.store.event_store import EventStore

SOURCE = "order|cbec.in.order/0"
A, B = uuid.uuid5(uuid.NAMESPACE_URL, "stream-a"), uuid.uuid5(uuid.NAMESPACE_URL, "stream-b")


@pytest.fixture
def events(tmp_path: Path) -> Iterator[EventStore]:
    store = EventStore.open(f"sqlite:///{tmp_path}/batching.db", schema="unused", name="order")
    yield store
    store.close()


@pytest.fixture
def store(events: EventStore) -> BatchingDeclarations:
    return BatchingDeclarations(events)


def at(offset: int) -> Position:
    return Position(SOURCE, offset)


def test_outside_a_batch_every_append_commits_at_once(store: BatchingDeclarations, events: EventStore) -> None:
    store.append(A, 0, [("Received", {"n": 1})], at(1))
    assert [e.type for e in events.read(A)] == ["Received"]
    assert events.has_tracking(SOURCE, 1)
    with pytest.raises(AlreadyProcessed):
        store.record_position(at(1))


def test_a_batch_commits_all_its_appends_once_with_the_last_position(
    store: BatchingDeclarations, events: EventStore
) -> None:
    with store.batch(SOURCE, [A, B]):
        store.append(A, 0, [("Received", {"n": 1}), ("Released", {"n": 1})], at(10))
        store.record_position(at(11))
        store.append_batch([StreamAppend(B, 0, [("Received", {"n": 2})])], at(12))
        assert events.read(A) == [] and events.max_tracking_id(SOURCE) is None  # nothing yet

    assert [e.type for e in events.read(A)] == ["Received", "Released"]
    assert [e.data for e in events.read(B)] == [{"n": 2}]
    assert events.max_tracking_id(SOURCE) == 12
    assert [e.notification_id for e in events.notifications(1, 10)] == [1, 2, 3]


def test_inside_a_batch_reads_see_the_batch_own_appends_as_stored(store: BatchingDeclarations) -> None:
    store.append(A, 0, [("Received", {"n": 1})], at(1))
    with store.batch(SOURCE, [A]):
        store.append(A, 1, [("Changed", {"amount": Decimal("1.50")})], at(2))
        assert store.read(A) == [("Received", {"n": 1}), ("Changed", {"amount": "1.50"})]
        store.append(A, 2, [("Changed", {"n": 3})], at(3))
        with pytest.raises(VersionConflict):
            store.append(A, 2, [("Changed", {"n": 4})], at(4))
    assert [e.version for e in store.store.read(A)] == [1, 2, 3]


def test_streams_not_read_up_front_are_read_when_needed(store: BatchingDeclarations) -> None:
    store.append(B, 0, [("Received", {"n": 1})])
    with store.batch(SOURCE, [A]):
        assert store.read(B) == [("Received", {"n": 1})]
        store.append(B, 1, [("Released", {})], at(5))
    assert len(store.read(B)) == 2


def test_a_position_used_twice_or_already_recorded_is_already_processed(store: BatchingDeclarations) -> None:
    store.record_position(at(7))
    with store.batch(SOURCE, []):
        with pytest.raises(AlreadyProcessed):
            store.append(A, 0, [("Received", {})], at(7))
        store.append(A, 0, [("Received", {})], at(8))
        with pytest.raises(AlreadyProcessed):
            store.record_position(at(8))
    assert len(store.read(A)) == 1


def test_a_failing_append_inside_a_batch_leaves_the_batch_as_it_was(store: BatchingDeclarations) -> None:
    with store.batch(SOURCE, []):
        with pytest.raises(VersionConflict):
            store.append_batch([StreamAppend(A, 0, [("Received", {})]), StreamAppend(B, 3, [("X", {})])], at(1))
        store.append(A, 0, [("Received", {})], at(1))  # neither the append nor its position were kept
    assert len(store.read(A)) == 1 and store.read(B) == []


def test_an_error_inside_the_block_discards_the_whole_batch(store: BatchingDeclarations, events: EventStore) -> None:
    with pytest.raises(RuntimeError), store.batch(SOURCE, []):
        store.append(A, 0, [("Received", {})], at(1))
        raise RuntimeError("handler bug")
    assert events.read(A) == [] and events.max_tracking_id(SOURCE) is None
    store.append(A, 0, [("Received", {})], at(1))  # and the store is out of batch mode again
    assert len(events.read(A)) == 1


def test_a_position_of_another_source_cannot_join_the_batch(store: BatchingDeclarations) -> None:
    with pytest.raises(NotBatchable), store.batch(SOURCE, []):
        store.append(A, 0, [("Received", {})], Position(SOURCE + "#refused", 1))


def test_a_writer_outside_the_batch_makes_the_commit_fail_and_nothing_is_written(
    store: BatchingDeclarations, events: EventStore
) -> None:
    with pytest.raises(VersionConflict), store.batch(SOURCE, [A]):
        store.append(B, 0, [("Received", {})], at(1))
        store.append(A, 0, [("Received", {"by": "batch"})], at(2))
        other = threading.Thread(target=store.append, args=(A, 0, [("Received", {"by": "http"})]))
        other.start()  # another thread (the HTTP API) writes through, at once
        other.join()
    assert [e.data for e in events.read(A)] == [{"by": "http"}]
    assert events.read(B) == [] and events.max_tracking_id(SOURCE) is None


def test_batches_do_not_nest(store: BatchingDeclarations) -> None:
    with pytest.raises(RuntimeError), store.batch(SOURCE, []), store.batch(SOURCE, []):
        pass
